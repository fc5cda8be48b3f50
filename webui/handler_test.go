package webui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// newTestServer serves the UI over the fixture repository at /ui.
func newTestServer(t *testing.T, auth *Auth) *httptest.Server {
	t.Helper()
	dir := fixtureRepo(t)
	src := NewSource(Options{Dir: dir, Now: func() time.Time { return now }})
	h, err := New(Config{Source: src, Auth: auth, Now: func() time.Time { return now }})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func getJSON[T any](t *testing.T, url string) T {
	t.Helper()
	code, hd, body := get(t, url)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "application/json", hd.Get("Content-Type"))
	var v T
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

func columnIDs(b Board) map[string][]string {
	out := map[string][]string{}
	for _, c := range b.Columns {
		out[c.State] = []string{}
		for _, card := range c.Cards {
			out[c.State] = append(out[c.State], card.ID)
		}
	}
	return out
}

func TestBoard(t *testing.T) {
	srv := newTestServer(t, nil)
	for _, tc := range []struct {
		name, query string
		want        map[string][]string
	}{
		{"all", "", map[string][]string{
			StateMerged: {"CHG-2026-0005"}, StateSigned: {"CHG-2026-0007"}, StateWaiting: {"CHG-2026-0006", "CHG-2026-0002"},
			StateApplying: {"CHG-2026-0003"}, StateVerified: {"CHG-2026-0004"}, StateFailed: {"CHG-2026-0001"}}},
		{"service", "?service=search", map[string][]string{
			StateMerged: {"CHG-2026-0005"}, StateSigned: {}, StateWaiting: {"CHG-2026-0006", "CHG-2026-0002"},
			StateApplying: {}, StateVerified: {}, StateFailed: {}}},
		{"env and risk", "?env=prod&risk=high&risk=critical", map[string][]string{
			StateMerged: {}, StateSigned: {}, StateWaiting: {}, StateApplying: {}, StateVerified: {"CHG-2026-0004"}, StateFailed: {"CHG-2026-0001"}}},
		{"kind and owner", "?kind=standard&owner=team-payments", map[string][]string{
			StateMerged: {}, StateSigned: {"CHG-2026-0007"}, StateWaiting: {}, StateApplying: {}, StateVerified: {}, StateFailed: {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := getJSON[Board](t, srv.URL+"/ui/api/v1/board"+tc.query)
			assert.Equal(t, tc.want, columnIDs(b))
		})
	}
	b := getJSON[Board](t, srv.URL+"/ui/api/v1/board")
	byID := map[string]Card{}
	for _, c := range b.Columns {
		for _, card := range c.Cards {
			byID[card.ID] = card
		}
	}
	assert.Equal(t, HoldFreeze, byID["CHG-2026-0002"].Hold, "a freeze wait is a freeze hold")
	assert.Equal(t, "freeze:december-peak", byID["CHG-2026-0002"].Cause)
	assert.Equal(t, HoldBudget, byID["CHG-2026-0006"].Hold, "a budget wait is an error-budget hold")
	assert.Equal(t, "rolled-back", byID["CHG-2026-0001"].Detail)
	assert.Equal(t, "restored sha256:1111", byID["CHG-2026-0001"].Reason)

	code, hd, body := get(t, srv.URL+"/ui/board?service=search")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, hd.Get("Content-Security-Policy"), "default-src 'none'")
	assert.NotContains(t, hd.Get("Content-Security-Policy"), "unsafe-inline")
	assert.Contains(t, body, `<option value="search" selected>search</option>`)
	assert.Contains(t, body, "error-budget hold")
	assert.NotContains(t, body, "CHG-2026-0001", "filtered out")
}

func TestLimit(t *testing.T) {
	srv := newTestServer(t, nil)
	b := getJSON[Board](t, srv.URL+"/ui/api/v1/board?limit=1")
	for _, c := range b.Columns {
		if c.State == StateWaiting {
			assert.Equal(t, 2, c.Total)
			assert.Len(t, c.Cards, 1)
		}
	}
	_, _, body := get(t, srv.URL+"/ui/board?limit=1")
	assert.Contains(t, body, "1 more: narrow the filters")
}

func TestCalendar(t *testing.T) {
	srv := newTestServer(t, nil)
	c := getJSON[Calendar](t, srv.URL+"/ui/api/v1/calendar")
	assert.Equal(t, "week", c.View)
	assert.Equal(t, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), c.From, "weeks start on Monday")
	timing := map[string]string{}
	for _, w := range c.Windows {
		timing[w.ID] = w.Timing
	}
	assert.Equal(t, map[string]string{
		"CHG-2026-0001": "finished", "CHG-2026-0002": "upcoming", "CHG-2026-0003": "active", "CHG-2026-0005": "upcoming",
		"CHG-2026-0006": "active", "CHG-2026-0007": "active",
	}, timing, "CHG-2026-0004's window was the week before")
	require.Len(t, c.Freezes, 1)
	assert.Equal(t, "december-peak", c.Freezes[0].Name)
	var today []string
	for _, d := range c.Days {
		if d.Today {
			today = append(today, d.Date)
		}
	}
	assert.Equal(t, []string{"2026-12-02"}, today, "now is marked on one day")

	staging := getJSON[Calendar](t, srv.URL+"/ui/api/v1/calendar?env=staging")
	assert.Empty(t, staging.Freezes, "the freeze is prod's")
	month := getJSON[Calendar](t, srv.URL+"/ui/api/v1/calendar?view=month&date=2026-11-15")
	assert.Equal(t, "2026-12-01", month.Next)
	assert.Len(t, month.Days, 30)
	var ids []string
	for _, w := range month.Windows {
		ids = append(ids, w.ID)
	}
	assert.Equal(t, []string{"CHG-2026-0004"}, ids)

	code, _, _ := get(t, srv.URL+"/ui/calendar?view=year")
	assert.Equal(t, http.StatusBadRequest, code)
	code, _, body := get(t, srv.URL+"/ui/calendar")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `class="day today"`)
	assert.Contains(t, body, "Freeze: december-peak")
	assert.Contains(t, body, "peak sales, &lt;b&gt;no changes&lt;/b&gt;", "freeze reasons are escaped")
}

func TestTicketPage(t *testing.T) {
	srv := newTestServer(t, nil)
	p := getJSON[TicketPage](t, srv.URL+"/ui/api/v1/tickets/CHG-2026-0001")
	assert.Equal(t, []string{"CHG-2026-0003"}, p.Ticket.Dependents)
	assert.Len(t, p.Events, 8)
	assert.Equal(t, "failed", p.Events[6].Kind)
	assert.JSONEq(t, `{"reason":"postcheck p99 latency 0.41 > 0.25 <img src=x>","step":"postchecks"}`, string(p.Events[6].Data))
	assert.Contains(t, p.Source, `id: "CHG-2026-0001"`)
	assert.Equal(t, []string{"github:1002"}, p.Ticket.Approvers)
	dep := getJSON[TicketPage](t, srv.URL+"/ui/api/v1/tickets/CHG-2026-0003")
	require.Len(t, dep.DependsOn, 1)
	assert.Equal(t, "CHG-2026-0001", dep.DependsOn[0].ID)

	code, _, body := get(t, srv.URL+"/ui/tickets/CHG-2026-0001")
	require.Equal(t, http.StatusOK, code)
	for _, bad := range []string{"<script>", "<img src=x>", `href="javascript:`, "<b>"} {
		assert.NotContains(t, body, bad, "untrusted text is escaped")
	}
	assert.Contains(t, body, "&lt;script&gt;")
	assert.Contains(t, body, `href="https://grafana.example/d/pay"`)
	assert.Contains(t, body, `href="https://github.com/acme/changes/pull/1"`)
	assert.Contains(t, body, "postcheck p99 latency")

	for _, p := range []string{"/ui/tickets/CHG-2026-9999", "/ui/tickets/..%2Fetc", "/ui/api/v1/tickets/nope"} {
		code, _, _ := get(t, srv.URL+p)
		assert.Equal(t, http.StatusNotFound, code, p)
	}
}

func TestOverview(t *testing.T) {
	srv := newTestServer(t, nil)
	o := getJSON[Overview](t, srv.URL+"/ui/api/v1/overview")
	ids := func(cs []Card) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	assert.Equal(t, []string{"CHG-2026-0003"}, ids(o.Applying))
	assert.Equal(t, []string{"CHG-2026-0001"}, ids(o.Failed))
	require.Len(t, o.PostReviews, 1)
	assert.Equal(t, "CHG-2026-0004", o.PostReviews[0].ID)
	assert.Equal(t, now.Add(-24*time.Hour), o.PostReviews[0].Due, "signed six days ago, due after five")
	assert.True(t, o.PostReviews[0].Overdue)
	assert.Equal(t, 7, o.Tickets)
}

func TestAuth(t *testing.T) {
	t.Run("header", func(t *testing.T) {
		srv := newTestServer(t, HeaderAuth("X-Forwarded-User"))
		code, _, _ := get(t, srv.URL+"/ui/")
		assert.Equal(t, http.StatusUnauthorized, code)
		code, _, _ = get(t, srv.URL+"/ui/api/v1/board", "X-Forwarded-User", "")
		assert.Equal(t, http.StatusUnauthorized, code)
		code, _, _ = get(t, srv.URL+"/ui/api/v1/board", "X-Forwarded-User", "alice")
		assert.Equal(t, http.StatusOK, code)
	})
	t.Run("basic", func(t *testing.T) {
		hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
		require.NoError(t, err)
		file := filepath.Join(t.TempDir(), "htpasswd")
		require.NoError(t, os.WriteFile(file, []byte("# users\nalice:"+string(hash)+"\n"), 0o600))
		a, err := LoadBasicAuth(file)
		require.NoError(t, err)
		srv := newTestServer(t, a)
		for _, tc := range []struct {
			user, pass string
			want       int
		}{{"alice", "s3cret", 200}, {"alice", "wrong", 401}, {"mallory", "s3cret", 401}, {"", "", 401}} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ui/calendar.ics", nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.want, resp.StatusCode, "%s/%s", tc.user, tc.pass)
			if tc.want == 401 {
				assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic")
			}
		}
	})
	t.Run("bad file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "htpasswd")
		require.NoError(t, os.WriteFile(file, []byte("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), 0o600))
		_, err := LoadBasicAuth(file)
		assert.ErrorIs(t, err, ErrAuthFile, "only bcrypt hashes are accepted")
	})
}

// TestICS reads /calendar.ics back with a real iCalendar parser (Debian's
// python3-icalendar): every window and the freeze, text unescaped to what
// the ticket says, every line at most 75 octets.
func TestICS(t *testing.T) {
	srv := newTestServer(t, nil)
	code, hd, body := get(t, srv.URL+"/ui/calendar.ics")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "text/calendar; charset=utf-8", hd.Get("Content-Type"))
	for _, l := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
		assert.LessOrEqual(t, len(l), 75, "line %q is longer than 75 octets", l)
		assert.NotContains(t, l, "\n")
	}
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import icalendar").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		if os.Getenv("CAB_REQUIRE_BROWSER") == "1" {
			t.Fatal("python3-icalendar is required (CAB_REQUIRE_BROWSER=1): run .ci/install-webui.sh")
		}
		t.Skip("python3-icalendar not installed (.ci/install-webui.sh)")
	}
	script := `
import icalendar, json, sys
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = []
for ev in cal.walk("VEVENT"):
    out.append({"uid": str(ev["UID"]), "summary": str(ev["SUMMARY"]), "description": str(ev.get("DESCRIPTION", "")),
                "start": ev.decoded("DTSTART").isoformat(), "end": ev.decoded("DTEND").isoformat()})
print(json.dumps(out))
`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.Output()
	require.NoError(t, err, "python3-icalendar could not parse the calendar:\n%s", body)
	var events []struct{ UID, Summary, Description, Start, End string }
	require.NoError(t, json.Unmarshal(out, &events))
	byUID := map[string]int{}
	for i, e := range events {
		byUID[e.UID] = i
	}
	for _, ft := range fixtureTickets {
		require.Contains(t, byUID, ft.id+"@cab")
		e := events[byUID[ft.id+"@cab"]]
		assert.Equal(t, ft.start.Format("2006-01-02T15:04:05+00:00"), e.Start, ft.id)
		assert.Equal(t, ft.end.Format("2006-01-02T15:04:05+00:00"), e.End, ft.id)
		assert.True(t, strings.HasPrefix(e.Summary, ft.id+" "+ft.title+" ["), "summary %q", e.Summary)
	}
	e := events[byUID["CHG-2026-0001@cab"]]
	assert.Contains(t, e.Description, "line one\nline, two; three", "commas, semicolons and newlines survive escaping")
	require.Contains(t, byUID, "freeze-december-peak-20261204T000000Z@cab")
	assert.Equal(t, "peak sales, <b>no changes</b>\nenvironments: prod", events[byUID["freeze-december-peak-20261204T000000Z@cab"]].Description)
}

func TestICSEscapeFold(t *testing.T) {
	var w icsWriter
	w.prop("SUMMARY", strings.Repeat("é", 60)+"a;b,c\\d\r\ne\x01f")
	got := w.buf.String()
	for _, l := range strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n") {
		assert.LessOrEqual(t, len(l), 75)
		assert.True(t, utf8ValidLine(l), "a fold split a UTF-8 sequence: %q", l)
	}
	unfolded := strings.ReplaceAll(got, "\r\n ", "")
	assert.Equal(t, "SUMMARY:"+strings.Repeat("é", 60)+`a\;b\,c\\d\nef`+"\r\n", unfolded)
}

func utf8ValidLine(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

// The overview shows cab serve's last approval-SLA poll, with its text
// escaped; without a poll it says how to get one.
func TestOverviewSLABreaches(t *testing.T) {
	srv := newTestServer(t, nil)
	o := getJSON[Overview](t, srv.URL+"/ui/api/v1/overview")
	assert.Empty(t, o.SLABreaches)
	assert.Contains(t, o.SLA, "--sla-interval")

	dir := fixtureRepo(t)
	polled := now.Add(-time.Minute)
	h, err := New(Config{Source: NewSource(Options{Dir: dir, Now: func() time.Time { return now }}), Now: func() time.Time { return now },
		SLA: func() *SLAStatus {
			return &SLAStatus{At: polled, Breaches: []SLABreach{{PR: 7, Service: "payments", Risk: "high", Level: 2,
				Reason: `approval SLA breached: <script>alert(1)</script>`}}}
		}})
	require.NoError(t, err)
	ui := httptest.NewServer(h)
	defer ui.Close()
	o = getJSON[Overview](t, ui.URL+"/ui/api/v1/overview")
	require.Len(t, o.SLABreaches, 1)
	assert.Equal(t, int64(7), o.SLABreaches[0].PR)
	assert.Equal(t, 2, o.SLABreaches[0].Level)
	assert.Contains(t, o.SLA, polled.Format(time.RFC3339))
	code, _, page := get(t, ui.URL+"/ui/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, "#7")
	assert.Contains(t, page, "backup group told")
	assert.NotContains(t, page, "<script>alert(1)")
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
}
