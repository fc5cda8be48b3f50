package model

import "time"

// DefaultCheckBudget is how long the reconciler retries failing postchecks
// before it rolls a change back (cab reconcile --check-budget). A
// postcheck must hold for no longer than this to be able to pass, and the
// gate judges tickets against it.
const DefaultCheckBudget = 2 * time.Minute
