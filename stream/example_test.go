package stream_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/guaracloud/auditlog/stream"
)

// A receiver checks the Audit-Signature header against the raw body before
// trusting a batch, and de-duplicates entries by id.
func ExampleVerifySignature() {
	secret := []byte("whsec_...") // shown once when the stream was created
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if err := stream.VerifySignature(secret, r.Header.Get("Audit-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// json.Unmarshal(body, &struct{ Data []json.RawMessage }{...}), store by "id"
		w.WriteHeader(http.StatusNoContent)
	})

	body := `{"data":[]}`
	for _, sig := range []string{stream.Sign(secret, time.Now(), []byte(body)), stream.Sign([]byte("guess"), time.Now(), []byte(body))} {
		req := httptest.NewRequest(http.MethodPost, "/audit", strings.NewReader(body))
		req.Header.Set("Audit-Signature", sig)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// 204
	// 401
}
