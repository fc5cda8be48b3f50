package serve_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/serve"
)

// A GitHub push to main, signed with the webhook's secret, queues a pass.
// (Serve would also run the loop that takes it; Handler alone only
// answers.)
func ExampleServer_Handler() {
	secret := []byte("webhook-secret")
	s, err := serve.New(serve.Config{
		Reconcile: func(ctx context.Context) (*reconcile.Summary, error) {
			return &reconcile.Summary{}, nil // reconcile.Run(ctx, …) in cab serve
		},
		GitHubSecret: secret,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()

	body := `{"ref":"refs/heads/main","after":"1111111111111111111111111111111111111111"}`
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(body))
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/webhook/github", strings.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(answer))
	// Output:
	// 202 {"result":"queued","reason":"push to refs/heads/main: pass queued"}
}
