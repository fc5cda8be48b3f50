package plan_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/plan"
	"github.com/cabhq/cab/reconcile/target"
	gittarget "github.com/cabhq/cab/reconcile/target/git"
	httptarget "github.com/cabhq/cab/reconcile/target/http"
	"github.com/cabhq/cab/reconcile/target/oci"
)

var now = time.Date(2026, 12, 1, 22, 30, 0, 0, time.UTC)

// pushImage uploads a random image to host/repo and returns its digest;
// with tag, the tag points at it.
func pushImage(t *testing.T, host, repo, tag string) string {
	t.Helper()
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	ref := host + "/" + repo + "@" + d.String()
	if tag != "" {
		ref = host + "/" + repo + ":" + tag
	}
	r, err := name.ParseReference(ref, name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img))
	return d.String()
}

// envRepo seeds a bare repository on a git http-backend with values.json.
func envRepo(t *testing.T, content string) string {
	t.Helper()
	srv := gittest.NewServer(t)
	_, u := srv.Bare(t, "env")
	work := t.TempDir()
	gittest.Git(t, work, "init", "-q", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(work, "values.json"), []byte(content), 0o644))
	gittest.Git(t, work, "add", ".")
	gittest.Git(t, work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "seed")
	gittest.Git(t, work, "push", "-q", u, "main")
	return u
}

func TestMake(t *testing.T) {
	ctx := context.Background()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/locked/") {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"no"}]}`, http.StatusForbidden)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host := u.Host
	current := pushImage(t, host, "prod/app", "live")
	next := pushImage(t, host, "staging/app", "")
	gitURL := envRepo(t, `{"image": {"tag": "1.4.1"}}`+"\n")

	gd, err := gittarget.New(t.TempDir())
	require.NoError(t, err)
	drivers := map[string]target.Driver{
		"oci":  oci.New(oci.WithRetry(1, 0)),
		"git":  gd,
		"http": httptarget.New(httptarget.WithRetries(1)),
	}
	cfg := &model.Config{
		Environments: map[string]model.Environment{
			"staging": {Targets: map[string]model.Target{
				"images": {Type: "oci", Registry: host},
				"env":    {Type: "git", URL: gitURL},
			}},
			"prod": {Targets: map[string]model.Target{
				"images": {Type: "oci", Registry: host},
				"locked": {Type: "oci", Registry: host},
				"hook":   {Type: "http", URL: gittest.Silent(t)},
			}},
		},
		Freezes: []model.Freeze{{Name: "year-end", Start: "2026-12-01T00:00:00", End: "2026-12-10T00:00:00", Timezone: "UTC", Environments: []string{"prod"}}},
	}
	src := host + "/staging/app@" + next
	tk := model.Ticket{ID: "CHG-2026-0042", Kind: "normal", Environments: []string{"staging", "prod"},
		Window: model.Window{Start: "2026-12-01T22:00:00Z", End: "2026-12-03T00:00:00Z"},
		Actions: []model.Action{
			{Type: "oci", Target: "images", Image: src, Repository: "prod/app", Tag: "live"},
			{Type: "oci", Target: "images", Image: src, Repository: "prod/app", Tag: "new"},
			{Type: "git", Target: "env", File: "values.json", Set: &model.SetValue{Path: ".image.tag", Value: "1.4.2"}},
			{Type: "oci", Target: "locked", Image: src, Repository: "locked/app", Tag: "live"},
			{Type: "http", Target: "hook", Path: "/deploy", Body: json.RawMessage(`{"v":"1.4.2"}`)},
			// A source image the registry does not have: the apply could not copy it.
			{Type: "oci", Target: "images", Image: host + "/staging/gone@sha256:" + strings.Repeat("0", 64), Repository: "prod/app", Tag: "gone"},
		}}

	p := plan.Make(ctx, plan.Options{Config: cfg, Drivers: drivers, Now: now, Timeout: 2 * time.Second},
		[]plan.Input{{File: "changes/app/CHG-2026-0042.cue", Ticket: tk}})

	require.Len(t, p.Tickets, 1)
	got := p.Tickets[0]
	require.Len(t, got.Envs, 2)
	assert.Equal(t, []string{"staging", "prod"}, []string{got.Envs[0].Name, got.Envs[1].Name}, "promotion order")

	type row struct{ state, from, to string }
	rows := func(e plan.Env) map[string]row {
		m := map[string]row{}
		for _, a := range e.Actions {
			m[a.Subject] = row{a.State, a.From, a.To}
		}
		return m
	}
	staging := rows(got.Envs[0])
	assert.Equal(t, row{plan.StateChange, current, next}, staging["images:live"], "tag moves from the current digest to the pinned one")
	assert.Equal(t, row{plan.StateCreate, target.Absent, next}, staging["images:new"], "the tag is created")
	assert.Equal(t, row{plan.StateChange, "1.4.1", "1.4.2"}, staging["env:values.json .image.tag"], "the file's value at its head")
	assert.Equal(t, "- 1.4.1\n+ 1.4.2\n", got.Envs[0].Actions[2].Diff)
	assert.Equal(t, plan.StateUnknown, got.Envs[0].Actions[3].State, "locked is not a staging target")
	assert.Equal(t, plan.StateUnknown, got.Envs[0].Actions[4].State, "hook is not a staging target")

	prod := got.Envs[1].Actions
	assert.Equal(t, plan.StateChange, prod[0].State)
	assert.Equal(t, plan.StateUnknown, prod[2].State, "env is not a prod target")
	assert.Equal(t, plan.StateUnknown, prod[3].State)
	assert.Contains(t, prod[3].Why, "DENIED")
	require.NotNil(t, prod[4].Call)
	assert.Equal(t, plan.Call{Method: "POST", URL: cfg.Environments["prod"].Targets["hook"].URL + "/deploy", Body: `{"v":"1.4.2"}`}, *prod[4].Call)
	assert.Equal(t, plan.StateUnknown, prod[4].State, "a webhook that never answers is unknown, within the bound")

	var msgs []string
	for _, pr := range got.Problems {
		msgs = append(msgs, string(pr.Severity)+" "+pr.Env+" "+pr.Message)
	}
	joined := strings.Join(msgs, "\n")
	assert.Contains(t, joined, `error staging no oci target "locked" for staging in the base cab.cue`)
	assert.Contains(t, joined, "warning prod the reconciler cannot read target locked")
	assert.Contains(t, joined, "error prod the window closes at 2026-12-03T00:00:00Z, before the earliest possible apply in prod at 2026-12-10T00:00:00Z (freeze year-end)")
	assert.NotContains(t, joined, "prod the reconciler cannot read target hook", "an unreachable target is unknown, not a problem")
	assert.Contains(t, joined, "warning staging the reconciler cannot read the source of images: reading the source image "+host+"/staging/gone@sha256:")
	assert.Equal(t, 2, strings.Count(joined, "cannot read the source of"), "the missing source, in staging and prod; the readable one is not flagged:\n%s", joined)
	for _, d := range p.Diagnostics() {
		assert.Equal(t, "changes/app/CHG-2026-0042.cue", d.File)
	}
	assert.Positive(t, p.Diagnostics().Errors())

	var text strings.Builder
	require.NoError(t, plan.WriteText(&text, p))
	assert.Contains(t, text.String(), "[change] oci images:live "+current+" → "+next)
	assert.Contains(t, text.String(), "        - 1.4.1\n        + 1.4.2\n")
	md := plan.Markdown(p)
	assert.Contains(t, md, "| `staging` | oci `images:new` | create | `absent` | `"+next+"` |")
}

func TestMarkdownEscapes(t *testing.T) {
	p := &plan.Plan{Tickets: []plan.Ticket{{ID: "CHG-2026-0001", Envs: []plan.Env{{Name: "prod", Actions: []plan.Action{
		{Type: "git", Subject: "a|b`c\n# x", State: plan.StateChange, From: "x", To: "y"},
	}}}}}}
	md := plan.Markdown(p)
	assert.Contains(t, md, "`a\\|b'c # x`")
	assert.NotContains(t, md, "\n# x")
}

func TestDiagnosticsSeverity(t *testing.T) {
	p := &plan.Plan{Tickets: []plan.Ticket{{ID: "CHG-2026-0001", File: "f.cue", Problems: []plan.Problem{
		{Severity: diag.Warning, Message: "w"}, {Severity: diag.Error, Message: "e"},
	}}}}
	ds := p.Diagnostics()
	require.Len(t, ds, 2)
	assert.Equal(t, 1, ds.Errors())
	assert.Equal(t, "plan", ds[0].Code)
}
