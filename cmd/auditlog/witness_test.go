package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/witness"
)

// TestWitnessCommand runs `auditlog witness init` then `serve`, and has a
// checkpoint of our log cosigned over HTTP.
func TestWitnessCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "witness")
	origin := integrity.OriginPrefix + "cmd-test"
	key, _, err := integrity.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "log.vkey")
	if err := os.WriteFile(keyFile, []byte(key.VerifierKey()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	args := []string{"witness", "init", "--dir", dir, "--name", "witness.customer.example", "--origin", origin, "--log-key", keyFile}
	if code := Run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("witness init: exit %d: %s", code, errOut.String())
	}
	vkey := strings.TrimSpace(out.String())
	if strings.Count(out.String(), "\n") != 1 || !strings.HasPrefix(vkey, "witness.customer.example+") {
		t.Fatalf("witness init printed %q, want one verifier key line", out.String())
	}
	private, err := os.ReadFile(filepath.Join(dir, witness.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	// PRIVATE+KEY+name+hash+base64: the base64 part may itself hold '+'.
	fields := strings.SplitN(strings.TrimSpace(string(private)), "+", 5)
	if len(fields) != 5 || len(fields[4]) < 40 {
		t.Fatalf("unexpected key file shape (%d fields)", len(fields))
	}
	secret := fields[4]
	if strings.Contains(out.String()+errOut.String(), secret) || strings.Contains(out.String(), "PRIVATE") {
		t.Fatal("witness init printed the private key")
	}

	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncbuf.Buffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- Run(ctx, []string{"witness", "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--log-format", "json"}, io.Discard, logs)
	}()
	defer func() {
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("witness serve: exit %d: %s", code, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("witness serve did not stop")
		}
	}()
	url := "http://" + waitWitnessAddr(t, logs)

	c, err := integrity.SignCheckpoint(key, origin, integrity.Head{Size: 1, Root: integrity.LeafHash([]byte("e0"))}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(url+"/add-checkpoint", "text/plain", strings.NewReader("old 0\n\n"+string(c.Note)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("add-checkpoint: %d %s", res.StatusCode, body)
	}
	// One cosignature line by the key init printed: "— name base64(keyhash || time || sig)".
	var name, sig string
	if _, err := fmt.Sscanf(string(body), "— %s %s\n", &name, &sig); err != nil || name != "witness.customer.example" {
		t.Fatalf("answer %q is not a cosignature line by the witness (%v)", body, err)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != 4+8+64 || fmt.Sprintf("%s+%08x+", name, binary.BigEndian.Uint32(raw)) != vkey[:len(name)+10] {
		t.Fatalf("cosignature %q does not carry the hash of key %s", sig, vkey)
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatal("witness serve logged the private key")
	}
}

// waitWitnessAddr waits for serve's "witness listening" log line and returns its address.
func waitWitnessAddr(t *testing.T, logs *syncbuf.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "witness listening" {
				return rec.Addr
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("witness serve did not start: %s", logs.String())
	return ""
}

func TestWitnessCommandErrors(t *testing.T) {
	key, _, err := integrity.GenerateKey("example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"witness", "init", "--dir", dir, "--log-key", key.VerifierKey()}, "--origin is required"},
		{[]string{"witness", "init", "--dir", dir, "--origin", "example.com/log", "--log-key", "nope"}, "--log-key"},
		{[]string{"witness", "serve", "--dir", filepath.Join(dir, "none"), "--addr", "127.0.0.1:0"}, "witness init"},
		{[]string{"witness", "serve"}, "--dir is required"},
	} {
		var errOut bytes.Buffer
		if code := Run(context.Background(), c.args, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d %q, want 1 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}
