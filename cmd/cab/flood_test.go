package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// floodCeiling is the most memory (peak RSS, VmHWM) `cab serve` may use
// under TestServeMemoryUnderFlood: its own start-up (the CUE evaluator,
// go-git, the Prometheus registry) plus the bounded webhook bodies. Before
// bodies were bounded, 20 parallel unauthenticated 25 MiB posts took it
// from 87 MB to 955 MB. Stated in README (cab serve) and serve/doc.go.
const floodCeiling = 128 << 20

// floodDuration is how long the flood lasts: CAB_FLOOD_SECONDS, or 3 s.
func floodDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("CAB_FLOOD_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 3 * time.Second
}

// TestServeMemoryUnderFlood floods the cab binary's /webhook/github with
// parallel unauthenticated posts (bodies at the limit, bodies declared
// too large, and bodies sent slowly) and checks that its peak RSS stays
// under floodCeiling, that it refused what it could not read (503) and
// never authenticated anything.
func TestServeMemoryUnderFlood(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir, []string{"CAB_WEBHOOK_SECRET=flood-secret-0123"},
		"--webhook", "github", "--interval", "1h", "--remote", "")
	base := "http://" + p.addr
	before := p.status(t, "VmRSS")

	body := bytes.Repeat([]byte("x"), 1<<20) // at the default limit
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var counts sync.Map
	var sent atomic.Int64
	count := func(code int) {
		v, _ := counts.LoadOrStore(code, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	end := time.Now().Add(floodDuration())
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for time.Now().Before(end) {
				var r io.Reader = bytes.NewReader(body)
				switch w % 8 {
				case 0: // declared far too large
					r = io.LimitReader(neverEnding{}, 25<<20)
				case 1: // trickled
					r = &slowReader{r: bytes.NewReader(body[:64<<10]), pause: 5 * time.Millisecond}
				}
				req, err := http.NewRequest(http.MethodPost, base+"/webhook/github", r)
				require.NoError(t, err)
				if w%8 == 0 {
					req.ContentLength = 25 << 20
				}
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-Hub-Signature-256", "sha256="+fmt.Sprintf("%064x", w))
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					count(0) // the server closed a connection it would not read
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				count(resp.StatusCode)
			}
		})
	}
	wg.Wait()

	peak := p.status(t, "VmHWM")
	got := map[int]int64{}
	counts.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("%d posts in %s: answers by status %v; RSS before %d MiB, peak %d MiB (ceiling %d MiB)",
		sent.Load(), floodDuration(), got, before>>20, peak>>20, floodCeiling>>20)
	assert.Less(t, peak, int64(floodCeiling), "peak RSS of cab serve under the flood")
	assert.Positive(t, got[http.StatusUnauthorized], "bodies read and refused")
	assert.Positive(t, got[http.StatusServiceUnavailable], "deliveries refused while the slots were taken")
	assert.Positive(t, got[http.StatusRequestEntityTooLarge], "declared too large")
	for code := range got {
		assert.Contains(t, []int{0, 401, 408, 413, 503}, code, "nothing else: no delivery was authenticated")
	}
	// Still answering.
	resp, err := http.Get(base + "/livez")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// neverEnding is an endless body.
type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'y'
	}
	return len(p), nil
}

// slowReader trickles r in small pieces.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), 4<<10)])
}
