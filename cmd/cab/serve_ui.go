package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/pflag"

	"github.com/cabhq/cab/webui"
)

// uiOptions are cab serve's flags for the read-only web UI.
type uiOptions struct {
	Enabled    bool
	Only       bool
	AuthHeader string
	Htpasswd   string
}

func (o *uiOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Enabled, "ui", true, "serve the read-only web UI at /ui/ (calendar, board, tickets; JSON under /ui/api/v1/)")
	fs.BoolVar(&o.Only, "ui-only", false, "serve only the web UI, without a reconciler (no key needed)")
	fs.StringVar(&o.AuthHeader, "ui-auth-header", "", "header a trusted reverse proxy sets after authenticating the user, e.g. X-Forwarded-User: requests without it get 401")
	fs.StringVar(&o.Htpasswd, "ui-htpasswd", "", "file of user:bcrypt-hash lines (htpasswd -nbB): the UI asks for HTTP basic authentication")
}

func (o *uiOptions) validate() error {
	if o.AuthHeader != "" && o.Htpasswd != "" {
		return errors.New("--ui-auth-header and --ui-htpasswd: choose one")
	}
	if o.Only && !o.Enabled {
		return errors.New("--ui-only with --ui=false serves nothing")
	}
	return nil
}

// handler builds the UI over the checkout in the working directory,
// reading main at rev and the ledger as cab log does.
// sla, when not nil, is the last approval-SLA poll for the overview.
func (o *uiOptions) handler(rev, remote, ledgerBranch string, log *slog.Logger, sla func() *webui.SLAStatus) (*webui.Handler, error) {
	var auth *webui.Auth
	switch {
	case o.AuthHeader != "":
		auth = webui.HeaderAuth(o.AuthHeader)
	case o.Htpasswd != "":
		a, err := webui.LoadBasicAuth(o.Htpasswd)
		if err != nil {
			return nil, err
		}
		auth = a
	}
	src := webui.NewSource(webui.Options{Rev: rev, Remote: remote, LedgerBranch: ledgerBranch, Logger: log})
	return webui.New(webui.Config{Source: src, Auth: auth, Logger: log, SLA: sla})
}

// serveUIOnly answers the web UI alone on --listen until ctx ends.
func (o *serveOptions) serveUIOnly(ctx context.Context, log *slog.Logger) error {
	h, err := o.UI.handler(o.Engine.Rev, o.Engine.Remote, o.Engine.Branch, log, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.Listen, err)
	}
	log.Info("serving the web UI only", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+webui.DefaultBase+"/")
	return webui.Serve(ctx, ln, h)
}
