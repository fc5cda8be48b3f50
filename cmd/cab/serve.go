package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/notify"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/serve"
	"github.com/cabhq/cab/webui"
)

// webhookSecretEnv holds the webhook secret shared by the enabled routes
// that have no secret file of their own.
const webhookSecretEnv = "CAB_WEBHOOK_SECRET"

// runReconcile runs one reconcile pass for cab serve with the options of o,
// reporting each step to obs as it happens (reconcile.Options.Observer).
// The reconcile engine wires it; while it is nil every pass fails with
// "reconciler not wired" (and /healthz answers 503).
var runReconcile = serveReconcile

type serveOptions struct {
	Listen           string
	Interval         time.Duration
	DriftInterval    time.Duration
	SLAInterval      time.Duration
	Branch           string
	Webhooks         []string
	GitHubSecretFile string
	GitLabTokenFile  string
	ShutdownGrace    time.Duration
	LogFormat        string
	LogLevel         string
	MaxBody          int64
	MaxBodies        int
	PassWarn         time.Duration
	PassWedged       time.Duration

	// Engine holds the reconcile flags shared with cab reconcile, and the
	// reconciler built at the first pass (kept: it caches verdicts).
	Engine reconcileOptions
	engine *serveEngine
	UI     uiOptions
	// notifier sends cab.cue's notifications (nil: none configured).
	notifier *notify.Notifier
}

func (o *serveOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address to answer HTTP on (webhooks, /healthz, /metrics)")
	fs.DurationVar(&o.Interval, "interval", serve.DefaultInterval, "time from the end of one pass to the next timed one (windows open without a push)")
	fs.DurationVar(&o.DriftInterval, "drift-interval", 0, "check every environment for drift this often (see cab drift), recording drifted events and setting cab_drift on /metrics; 0: never")
	fs.DurationVar(&o.SLAInterval, "sla-interval", 0, "poll the forge's open pull/merge requests this often for approval-SLA breaches (the gate's warning, as cab check --base --head gives it) and notify the approver group, then the backup group (cab.cue notify:, approvalSLA:; needs --forge); 0: never")
	fs.StringVar(&o.Branch, "branch", serve.DefaultBranch, "branch whose pushes trigger a pass")
	fs.StringSliceVar(&o.Webhooks, "webhook", nil, "webhook routes to enable: github, gitlab (each needs a secret)")
	fs.StringVar(&o.GitHubSecretFile, "github-secret-file", "", "file holding the GitHub webhook secret (enables /webhook/github; default: $"+webhookSecretEnv+")")
	fs.StringVar(&o.GitLabTokenFile, "gitlab-token-file", "", "file holding the GitLab webhook secret token (enables /webhook/gitlab; default: $"+webhookSecretEnv+")")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", serve.DefaultGrace, "on SIGINT/SIGTERM, how long the running pass may go on before it is cancelled (0: at once)")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Int64Var(&o.MaxBody, "webhook-max-body", serve.DefaultMaxBody, "largest webhook body read, in bytes (413 beyond); a GitHub body is read before its signature is checked")
	fs.IntVar(&o.MaxBodies, "webhook-max-concurrent", serve.DefaultMaxBodies, "webhook bodies read at once (503 with Retry-After beyond): bounds what unauthenticated requests can hold")
	fs.DurationVar(&o.PassWarn, "pass-warn", serve.DefaultPassWarn, "a pass running longer makes /healthz fail")
	fs.DurationVar(&o.PassWedged, "pass-wedged", serve.DefaultPassWedged, "a pass running longer makes /livez fail (an orchestrator restarts cab; the next start resumes)")
	o.Engine.addEngineFlags(fs)
	o.Engine.addForgeFlags(fs)
	o.engine = &serveEngine{}
	o.UI.addFlags(fs)
}

func (o *serveOptions) validate() error {
	if o.Listen == "" {
		return errors.New("--listen is empty: give an address such as 127.0.0.1:8080 or :8080")
	}
	if o.Interval <= 0 {
		return fmt.Errorf("--interval %s: want a positive duration such as 1m (the timer is what applies a ticket when its window opens)", o.Interval)
	}
	if o.SLAInterval < 0 {
		return fmt.Errorf("--sla-interval %s: want zero (never) or a positive duration such as 15m", o.SLAInterval)
	}
	forgeFlag := "--post"
	if o.SLAInterval > 0 {
		forgeFlag = "--sla-interval"
	}
	if err := o.Engine.validateForge(o.Engine.Post || o.SLAInterval > 0, forgeFlag); err != nil {
		return err
	}
	if o.ShutdownGrace < 0 {
		return fmt.Errorf("--shutdown-grace %s: want zero or a positive duration", o.ShutdownGrace)
	}
	if strings.TrimSpace(strings.TrimPrefix(o.Branch, "refs/heads/")) == "" {
		return errors.New("--branch is empty: give the branch tickets are merged into, e.g. main")
	}
	for _, w := range o.Webhooks {
		if w != "github" && w != "gitlab" {
			return fmt.Errorf("--webhook %q: want github or gitlab", w)
		}
	}
	if err := o.UI.validate(); err != nil {
		return err
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", o.LogFormat)
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		return err
	}
	switch {
	case o.MaxBody < 1<<10:
		return fmt.Errorf("--webhook-max-body %d: want at least 1024 bytes (a push event is a few KiB)", o.MaxBody)
	case o.MaxBodies < 1:
		return fmt.Errorf("--webhook-max-concurrent %d: want at least 1", o.MaxBodies)
	case o.PassWarn <= 0 || o.PassWedged <= 0:
		return errors.New("--pass-warn and --pass-wedged: want positive durations")
	case o.Engine.GitTimeout <= 0:
		return fmt.Errorf("--git-timeout %s: want a positive duration", o.Engine.GitTimeout)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// logger returns the slog logger writing to w in the chosen format, with
// every record scrubbed of credentials (o.Engine's redactor).
func (o *serveOptions) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(o.LogLevel) // validated
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if o.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(o.Engine.scrubber().Handler(h))
}

// secrets returns the GitHub secret and the GitLab token of the enabled
// routes (nil for a route not enabled). A route is enabled by --webhook or
// by its secret file; an enabled route without a secret is an error, so
// that nothing is ever served unauthenticated.
func (o *serveOptions) secrets(getenv func(string) string) (github, gitlab []byte, err error) {
	shared := []byte(strings.TrimSpace(getenv(webhookSecretEnv)))
	for _, r := range []struct {
		name, flag, file string
		out              *[]byte
	}{
		{"github", "--github-secret-file", o.GitHubSecretFile, &github},
		{"gitlab", "--gitlab-token-file", o.GitLabTokenFile, &gitlab},
	} {
		if r.file == "" && !slices.Contains(o.Webhooks, r.name) {
			continue
		}
		secret := shared
		if r.file != "" {
			if secret, err = readSecret(r.file); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", r.flag, err)
			}
		}
		if len(secret) == 0 {
			return nil, nil, fmt.Errorf("the %s webhook needs a secret: %s FILE or $%s (cab never serves a webhook unauthenticated)", r.name, r.flag, webhookSecretEnv)
		}
		*r.out = secret
	}
	return github, gitlab, nil
}

// readSecret reads a secret file, without the surrounding white space an
// editor or `echo` adds.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the secret: %w", err)
	}
	secret := []byte(strings.TrimSpace(string(b)))
	if len(secret) == 0 {
		return nil, fmt.Errorf("%s is empty: write the webhook's secret into it", path)
	}
	return secret, nil
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the reconciler as a daemon: on push webhooks and on a timer",
		Long: `Serve runs the reconciler as a daemon in a checkout of the change
repository: one pass at start, one --interval after each pass ends, and one
for each push to --branch that a GitHub or GitLab webhook reports. At most
one pass runs at a time and at most one waits; a webhook is answered (202)
as soon as its pass is queued. A webhook only wakes the reconciler, which
reads main and the ledger itself: nothing in a delivery says what to apply.

Routes:
  POST /webhook/github   X-Hub-Signature-256 (HMAC-SHA256 of the body) must
                         match the secret; push and ping events
  POST /webhook/gitlab   X-Gitlab-Token must equal the secret token; Push Hook
  GET  /healthz          200 "ok" while the loop runs, the last pass succeeded
                         (or none finished yet), no pass runs past --pass-warn
                         the ledger can be pushed and is the reconciler's
                         checkpoint plus added events; 503 with the reasons
  GET  /readyz           readiness: the loop runs, the last pass succeeded, the
                         ledger can be pushed
  GET  /livez            liveness: no pass runs past --pass-wedged
  GET  /ui/              the read-only web UI (overview, /ui/board,
                         /ui/calendar, /ui/calendar.ics, /ui/tickets/ID) and
                         its JSON under /ui/api/v1/; --ui=false turns it off,
                         --ui-only serves it alone (no reconciler, no key)
  GET  /metrics          Prometheus: cab_tickets{state}, cab_apply_duration_seconds,
                         cab_rollbacks_total{outcome}, cab_reconcile_errors_total,
                         cab_reconcile_passes_total, cab_last_pass_timestamp_seconds,
                         cab_webhooks_total{provider,result},
                         cab_approval_sla_breaches_total, …

Secrets never come from the command line: a route is enabled by --webhook
or by its secret file, and takes its secret from --github-secret-file or
--gitlab-token-file, or else from $CAB_WEBHOOK_SECRET. cab refuses to start
with an enabled route and no secret; a route not enabled answers 404, a
delivery without a valid signature or token 401, a body over
--webhook-max-body (1 MiB) 413. At most --webhook-max-concurrent bodies are
read at once (each within 10s); more deliveries meanwhile get 503 with
Retry-After: a flood of unauthenticated posts holds a few MiB, and the
timer's pass picks up any push whose webhook was refused.

Every fetch and push (change repository, ledger, environment repositories)
is bounded by --git-timeout; text from servers is scrubbed of credentials
(and of the tokens cab holds) before it reaches the ledger or the logs.

People are told what the ledger alone does not say (cab.cue notify:):
--sla-interval polls the forge's open pull/merge requests, runs the gate
on each head (as cab check --base --head does) and tells the approver
group, then the backup group, of an approval-SLA breach, once per level;
after each pass, emergency changes whose post-incident review is due or
overdue are told once each; --post keeps one comment on each ticket's
pull request with its latest outcome per environment. The forge (--forge github or gitlab)
is read from the environment as cab sign reads it (GITHUB_REPOSITORY,
GITHUB_TOKEN, GITHUB_API_URL; CI_PROJECT_ID, CAB_GITLAB_TOKEN,
CI_API_V4_URL). A forge that is down is logged and tried again; it never
fails a pass, and a poll is cut after a minute.

On SIGINT or SIGTERM cab stops answering HTTP, lets the running pass go on
for --shutdown-grace, then cancels it: the reconciler abandons the step
safely (an "applying" event without an outcome stays on the ledger, and the
next start resumes it by observing the target before acting).`,
		Example: `  cab serve --key file://reconciler.key --interval 5m --webhook github --github-secret-file /run/secrets/webhook
  CAB_WEBHOOK_SECRET=... cab serve --key file://reconciler.key --listen :8080 --webhook gitlab --log-format json
  curl -s localhost:8080/healthz
  cab serve --ui-only --listen 127.0.0.1:8081 --ui-auth-header X-Forwarded-User
  GITHUB_REPOSITORY=acme/changes GITHUB_TOKEN=... cab serve --key file://reconciler.key --forge github --sla-interval 15m --post`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if o.UI.Only {
				return o.serveUIOnly(cmd.Context(), o.logger(cmd.ErrOrStderr()))
			}
			github, gitlab, err := o.secrets(os.Getenv)
			if err != nil {
				return err
			}
			if o.Engine.Key == "" {
				return errNoKey
			}
			if _, err := o.Engine.loadSigner(cmd.Context()); err != nil {
				return err
			}
			// Decrypting a cosign-format key runs scrypt, which takes 64 MiB
			// by design: give it back now rather than carry it (and a heap
			// goal twice its size) into a daemon's first passes.
			debug.FreeOSMemory()
			// Every output scrubs the secrets this process holds.
			o.Engine.redactor = envRedactor(github, gitlab)
			log := o.logger(cmd.ErrOrStderr())
			if github == nil && gitlab == nil {
				if os.Getenv(webhookSecretEnv) != "" {
					log.Warn("$" + webhookSecretEnv + " is set but no webhook is enabled: add --webhook github or --webhook gitlab")
				}
				log.Info("no webhook enabled: reconciling on the timer only")
			}
			grace := o.ShutdownGrace
			if grace == 0 {
				grace = time.Nanosecond // cancel at once (zero is serve's default)
			}
			var srv *serve.Server
			opts := *o
			if opts.notifier, err = opts.startNotifier(cmd.Context(), log); err != nil {
				return err
			}
			board := &slaBoard{}
			cm, sla, err := opts.peopleHooks(log, board)
			if err != nil {
				return err
			}
			var ui http.Handler
			if o.UI.Enabled {
				var slaStatus func() *webui.SLAStatus
				if sla != nil {
					slaStatus = board.status
				}
				h, err := o.UI.handler(o.Engine.Rev, o.Engine.Remote, o.Engine.Branch, log, slaStatus)
				if err != nil {
					return err
				}
				ui = h
			}
			srv, err = serve.New(serve.Config{
				Reconcile: func(ctx context.Context) (*reconcile.Summary, error) {
					if runReconcile == nil {
						return nil, errors.New("reconciler not wired: this build of cab has no reconcile engine")
					}
					var obs reconcile.Observer = srv.Observer()
					if opts.notifier != nil {
						obs = opts.notifier.Observer(obs)
					}
					if cm != nil {
						obs = cm.Observer(obs)
					}
					sum, err := runReconcile(ctx, opts, obs)
					opts.afterPass(ctx, opts.notifier, cm, log)
					return sum, err
				},
				Branch:       o.Branch,
				GitHubSecret: github,
				GitLabToken:  gitlab,
				Interval:     o.Interval,
				Grace:        grace,
				Logger:       log,
				MaxBody:      o.MaxBody,
				MaxBodies:    o.MaxBodies,
				PassWarn:     o.PassWarn,
				PassWedged:   o.PassWedged,
				Redactor:     o.Engine.redactor,
				Healthy:      o.engine.healthy,
				Drift: func(ctx context.Context) ([]drift.Finding, error) {
					var obs reconcile.Observer = srv.Observer()
					if opts.notifier != nil {
						obs = opts.notifier.Observer(obs) // drifted reaches the sinks
					}
					return serveDrift(ctx, opts, obs)
				},
				DriftInterval: o.DriftInterval,
				SLA:           sla,
				SLAInterval:   o.SLAInterval,
				UI:            ui,
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", o.Listen)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", o.Listen, err)
			}
			return srv.Serve(cmd.Context(), ln)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
