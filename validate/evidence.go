package validate

import (
	"errors"
	"fmt"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
)

// reviewOf is the review the policies see for the change judged at head:
// the evidence bound to head through its one owner, forge.Evidence.Review.
// Evidence of another commit counts as none, with an error that says so;
// no evidence at all is a warning (approvals count as missing). The
// evidence's reasons for not counting approvals are reported as warnings.
func reviewOf(ev *forge.Evidence, head string) (*model.Review, diag.List, error) {
	none := &model.Review{Forge: "none", Pushers: []string{}, Approvals: []model.Approval{}, Labels: []string{}}
	if ev == nil {
		return none, diag.List{{File: ConfigFile, Severity: diag.Warning, Code: "review",
			Message: "no review evidence: approvals count as missing",
			Hint:    "run in a GitHub or GitLab pipeline, or pass --review FILE"}}, nil
	}
	var out diag.List
	for _, r := range ev.Reasons {
		out = append(out, diag.Diagnostic{File: ConfigFile, Severity: diag.Warning, Code: "review", Message: "review evidence: " + r})
	}
	r, err := ev.Review(head)
	switch {
	case errors.Is(err, forge.ErrNotBound):
		none.Forge = ev.Forge
		return none, append(out, diag.Diagnostic{File: ConfigFile, Severity: diag.Error, Code: "review",
			Message: fmt.Sprintf("%v: no approval counts", err),
			Hint:    "approvals are valid only for the commit they were given on: collect the evidence of the head under check (for --review, set headSHA to it)"}), nil
	case err != nil:
		return nil, nil, err
	}
	return r, out, nil
}
