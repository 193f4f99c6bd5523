package bundle_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
)

// FuzzVerify mutates one file of a small bundle with a chain (the manifest's
// body re-signed when resign is set, as a forger holding the key would) and
// verifies it: never a panic, and whatever verifies cross-checks with itself.
func FuzzVerify(f *testing.F) {
	fx := mixedFixture(f, 40, 10)
	archive, _ := fx.exportA(f, serviceFilter())
	names, files := unpack(f, archive)
	text, err := integrity.OpenNote(files[bundle.FileManifest], fx.key.Verifier())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), uint16(0), []byte{}, false, false)
	f.Add(uint8(2), uint16(40), []byte(`"count":1,`), true, true)
	f.Add(uint8(5), uint16(0), []byte("{}\n"), true, false)
	f.Add(uint8(3), uint16(17), []byte("9"), false, false)
	f.Add(uint8(2), uint16(200), []byte(`"from_seq":0,`), true, true)
	f.Fuzz(func(t *testing.T, file uint8, at uint16, data []byte, insert, resign bool) {
		m := map[string][]byte{}
		for k, v := range files {
			m[k] = bytes.Clone(v)
		}
		name := names[int(file)%len(names)]
		b := m[name]
		if resign && name == bundle.FileManifest {
			b = []byte(text)
		}
		pos := int(at) % (len(b) + 1)
		if insert {
			b = slices.Insert(b, pos, data...)
		} else {
			b = append(b[:pos], append(data, b[min(len(b), pos+len(data)):]...)...)
		}
		if resign && name == bundle.FileManifest {
			if b, err = fx.key.Sign(string(b)); err != nil {
				return // not a note body
			}
		}
		m[name] = b
		res, err := bundle.Verify(bytes.NewReader(repack(t, names, m)), fx.key.Verifier(), bundle.VerifyOptions{TempDir: t.TempDir(), KeepRecords: true})
		if err != nil {
			return
		}
		defer res.Records.Close()
		if err := bundle.CrossCheck(res, bundle.Other{Name: "self", Result: res}); err != nil {
			t.Fatalf("a verified bundle does not hold against itself: %v", err)
		}
	})
}
