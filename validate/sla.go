package validate

import (
	"github.com/cabhq/cab/internal/diag"
)

// SLAFindingID is the stable name the default approvals policy
// (policy/defaults/approvals.cue) gives its approval-SLA warning:
// {id: "approval-sla"}. TestSLALevelAgreesWithPolicy holds the two
// together.
const SLAFindingID = "approval-sla"

// SLAWarning returns the approval-SLA warning among ds, the gate's verdict
// that a pull request has waited past its SLA without enough approvals.
// cab serve's SLA poll notifies from it rather than judge the SLA again.
// The warning is known by its id, never by its words, so no other
// finding (whatever text a ticket puts into a message) is taken for it.
func SLAWarning(ds diag.List) (diag.Diagnostic, bool) {
	for _, d := range ds {
		if d.Severity == diag.Warning && d.Code == "policy" && d.ID == SLAFindingID {
			return d, true
		}
	}
	return diag.Diagnostic{}, false
}
