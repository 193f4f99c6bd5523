package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded file, served under a name that carries its hash.
type asset struct {
	body []byte
	typ  string
	etag string
}

// assets maps each embedded file's plain name to its hashed name, and hashed names to files.
type assets struct {
	names map[string]string // "app.css" -> "app.3f2a9c0b1d.css"
	files map[string]asset  // hashed name -> file
}

// loadAssets reads and hashes every embedded file.
func loadAssets() (*assets, error) {
	a := &assets{names: map[string]string{}, files: map[string]asset{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("static assets: %w", err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hash + ext
		typ := mime.TypeByExtension(ext)
		if typ == "" {
			typ = "application/octet-stream"
		}
		a.names[e.Name()] = hashed
		a.files[hashed] = asset{body: body, typ: typ, etag: `"` + hash + `"`}
	}
	return a, nil
}

// path returns the URL path of an embedded file by its plain name; templates
// call it as {{asset "app.css"}}. An unknown name is a bug caught by the tests.
func (a *assets) path(name string) (string, error) {
	hashed, ok := a.names[name]
	if !ok {
		return "", fmt.Errorf("no static asset %q", name)
	}
	return "/static/" + hashed, nil
}

// serve serves GET /static/{name}: a hashed name never changes content, so
// browsers may keep it for a year without asking again.
func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := a.files[r.PathValue("name")]
	if !ok {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method != http.MethodHead {
		w.Write(f.body)
	}
}
