package webui

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/ledger"
)

// DefaultBase is where the UI is mounted on cab serve's listener.
const DefaultBase = "/ui"

// csp is the Content-Security-Policy of every page: no script at all,
// styles only from the served stylesheet, nothing from elsewhere.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed assets
var assets embed.FS

// Config configures a Handler.
type Config struct {
	// Source reads the repository.
	Source *Source
	// Base is the path the UI is mounted at (default DefaultBase; "" is
	// not allowed: use "/" for the root).
	Base string
	// Auth guards every route (nil: none).
	Auth *Auth
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per failed request (default: discard).
	Logger *slog.Logger
	// SLA returns the last approval-SLA poll for the overview (nil, or a
	// nil result: none runs, or none finished yet).
	SLA func() *SLAStatus
}

// Handler serves the pages and their JSON twins.
type Handler struct {
	cfg  Config
	mux  *http.ServeMux
	tmpl *template.Template
}

// New returns the UI's handler. Routes, under Base:
//
//	GET /                      overview         GET /api/v1/overview
//	GET /board                 board            GET /api/v1/board
//	GET /calendar              calendar         GET /api/v1/calendar
//	GET /calendar.ics          iCalendar (RFC 5545)
//	GET /tickets/{id}          ticket page      GET /api/v1/tickets/{id}
//	GET /assets/style.css      the stylesheet
//	GET /assets/icon.svg       the icon (so browsers do not ask for /favicon.ico)
func New(cfg Config) (*Handler, error) {
	if cfg.Source == nil {
		return nil, errors.New("webui: no source")
	}
	if cfg.Base == "" {
		cfg.Base = DefaultBase
	}
	cfg.Base = strings.TrimSuffix(cfg.Base, "/")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = cfg.Source.o.Logger
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	t, err := template.New("").Funcs(h.funcs()).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, err
	}
	h.tmpl = t
	b := cfg.Base
	h.mux.HandleFunc("GET "+b+"/{$}", h.page("overview", h.overview))
	h.mux.HandleFunc("GET "+b+"/api/v1/overview", h.api(h.overview))
	h.mux.HandleFunc("GET "+b+"/board", h.page("board", h.board))
	h.mux.HandleFunc("GET "+b+"/api/v1/board", h.api(h.board))
	h.mux.HandleFunc("GET "+b+"/calendar", h.page("calendar", h.calendar))
	h.mux.HandleFunc("GET "+b+"/api/v1/calendar", h.api(h.calendar))
	h.mux.HandleFunc("GET "+b+"/calendar.ics", h.ics)
	h.mux.HandleFunc("GET "+b+"/tickets/{id}", h.page("ticket", h.ticket))
	h.mux.HandleFunc("GET "+b+"/api/v1/tickets/{id}", h.api(h.ticket))
	h.mux.HandleFunc("GET "+b+"/assets/style.css", h.asset("style.css", "text/css; charset=utf-8"))
	h.mux.HandleFunc("GET "+b+"/assets/icon.svg", h.asset("icon.svg", "image/svg+xml"))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	if h.cfg.Auth != nil && !h.cfg.Auth.allow(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// errNotFound makes a view answer 404.
var errNotFound = errors.New("not found")

// view computes a page's data.
type view func(r *http.Request, s *Snapshot) (any, error)

func (h *Handler) snapshot(w http.ResponseWriter, r *http.Request) (*Snapshot, bool) {
	s, err := h.cfg.Source.Snapshot(r.Context())
	if err != nil {
		h.cfg.Logger.Warn("web UI: reading the repository", "err", err)
		http.Error(w, "cannot read the change repository (see the server's log)", http.StatusServiceUnavailable)
		return nil, false
	}
	return s, true
}

// viewOf answers the request with the view of the current snapshot, or
// writes the error (503 without a snapshot, 404, 400) and says it did.
func (h *Handler) viewOf(w http.ResponseWriter, r *http.Request, v view) (*Snapshot, any, bool) {
	s, ok := h.snapshot(w, r)
	if !ok {
		return nil, nil, false
	}
	data, err := v(r, s)
	if errors.Is(err, errNotFound) {
		http.Error(w, "not found", http.StatusNotFound)
		return nil, nil, false
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, nil, false
	}
	return s, data, true
}

func (h *Handler) api(v view) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, data, ok := h.viewOf(w, r, v)
		if !ok {
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(data); err != nil {
			http.Error(w, "encoding the answer", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(buf.Bytes())
	}
}

// pageData is what every page template sees.
type pageData struct {
	Base  string
	Title string
	Page  string
	Main  string // main head, short
	Ledg  string // ledger head, short
	Data  any
}

func (h *Handler) page(name string, v view) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, data, ok := h.viewOf(w, r, v)
		if !ok {
			return
		}
		title := map[string]string{"overview": "Overview", "board": "Board", "calendar": "Calendar", "ticket": "Ticket"}[name]
		if p, ok := data.(*TicketPage); ok {
			title = p.Ticket.ID
		}
		var buf bytes.Buffer
		if err := h.tmpl.ExecuteTemplate(&buf, name+".html", pageData{Base: h.cfg.Base, Title: title, Page: name, Main: short(s.MainHead), Ledg: short(s.LedgerHead), Data: data}); err != nil {
			h.cfg.Logger.Warn("web UI: rendering", "page", name, "err", err)
			http.Error(w, "rendering the page failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	}
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (h *Handler) overview(_ *http.Request, s *Snapshot) (any, error) {
	o := OverviewView(s, h.cfg.Now())
	if h.cfg.SLA != nil {
		o.withSLA(h.cfg.SLA())
	}
	return o, nil
}

func (h *Handler) board(r *http.Request, s *Snapshot) (any, error) {
	q := r.URL.Query()
	return BoardView(s, filterOf(q), limitOf(q)), nil
}

func (h *Handler) calendar(r *http.Request, s *Snapshot) (any, error) {
	q := r.URL.Query()
	now := h.cfg.Now()
	anchor := now
	if d := q.Get("date"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil, errors.New("date: want YYYY-MM-DD")
		}
		anchor = t
	}
	view := q.Get("view")
	if view != "" && view != "week" && view != "month" {
		return nil, errors.New("view: want week or month")
	}
	return CalendarView(s, view, anchor, now, filterOf(q)), nil
}

func (h *Handler) ticket(r *http.Request, s *Snapshot) (any, error) {
	id := r.PathValue("id")
	if !ledger.ValidTicketID(id) {
		return nil, errNotFound
	}
	t := s.Ticket(id)
	if t == nil {
		return nil, errNotFound
	}
	src, err := h.cfg.Source.source(t)
	if err != nil {
		src = "(the ticket file cannot be read at its merge commit: " + err.Error() + ")"
	}
	return TicketView(s, t, src), nil
}

func (h *Handler) ics(w http.ResponseWriter, r *http.Request) {
	s, ok := h.snapshot(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := WriteICS(&buf, s, filterOf(r.URL.Query()), h.cfg.Now()); err != nil {
		http.Error(w, "writing the calendar", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// asset serves one embedded file.
func (h *Handler) asset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		b, _ := assets.ReadFile("assets/" + name)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(b)
	}
}

// Serve answers the UI alone on ln (cab serve --ui-only) until ctx is
// cancelled: / redirects to the UI's base; nothing else is served.
func Serve(ctx context.Context, ln net.Listener, h *Handler) error {
	mux := http.NewServeMux()
	mux.Handle(h.cfg.Base+"/", h)
	mux.Handle("GET /{$}", http.RedirectHandler(h.cfg.Base+"/", http.StatusFound))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	<-done
	return nil
}

// stateLabels name the board's columns.
var stateLabels = map[string]string{
	StateMerged: "Merged", StateSigned: "Signed", StateWaiting: "Scheduled / waiting", StateApplying: "Applying",
	StateVerified: "Verified", StateFailed: "Failed / rolled back / expired / quarantined",
}

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"base":       func() string { return h.cfg.Base },
		"stateLabel": func(s string) string { return stateLabels[s] },
		"holdLabel": func(s string) string {
			return map[string]string{HoldFreeze: "freeze hold", HoldBudget: "error-budget hold", HoldConflict: "conflict"}[s]
		},
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"has":     slices.Contains[[]string],
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"fmtTime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"day":     func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
		"join":    strings.Join,
		"sub":     func(a, b int) int { return a - b },
		"query": func(f Filter, kv ...string) template.URL {
			q := url.Values{}
			for k, vs := range map[string][]string{"service": f.Services, "env": f.Envs, "risk": f.Risks, "kind": f.Kinds, "owner": f.Owners} {
				for _, v := range vs {
					q.Add(k, v)
				}
			}
			for i := 0; i+1 < len(kv); i += 2 {
				q.Set(kv[i], kv[i+1])
			}
			return template.URL(q.Encode())
		},
	}
}
