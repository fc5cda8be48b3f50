package target

import (
	"context"

	"github.com/cabhq/cab/internal/redact"
)

// Redacting returns d with the text it passes on scrubbed by r: every
// error's message (errors.Is and errors.As still see the driver's own
// error) and every observed State.Value. Servers put anything in an error
// body or a reported state, and what a driver returns is recorded on the
// append-only ledger: this is the chokepoint that keeps credentials out.
// State.Restore is passed through as it is: Restore needs it byte for
// byte.
func Redacting(d Driver, r *redact.Redactor) Driver { return redacting{d, r} }

type redacting struct {
	d Driver
	r *redact.Redactor
}

func (x redacting) Observe(ctx context.Context, c Change) (State, error) {
	st, err := x.d.Observe(ctx, c)
	return x.state(st), x.r.Error(err)
}

func (x redacting) Apply(ctx context.Context, c Change) (State, error) {
	st, err := x.d.Apply(ctx, c)
	return x.state(st), x.r.Error(err)
}

func (x redacting) Restore(ctx context.Context, c Change, prev State) error {
	return x.r.Error(x.d.Restore(ctx, c, prev))
}

func (x redacting) state(st State) State {
	st.Value = x.r.Scrub(st.Value)
	return st
}
