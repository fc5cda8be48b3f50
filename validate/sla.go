package validate

import (
	"strings"

	"github.com/cabhq/cab/internal/diag"
)

// SLAWarningPrefix starts the default policy's approval-SLA warning
// (policy/defaults/approvals.cue): the one place outside that policy that
// knows its words. TestSLALevelAgreesWithPolicy holds the two together.
const SLAWarningPrefix = "approval SLA breached"

// SLAWarning returns the approval-SLA warning among ds, the gate's verdict
// that a pull request has waited past its SLA without enough approvals.
// cab serve's SLA poll notifies from it rather than judge the SLA again.
func SLAWarning(ds diag.List) (diag.Diagnostic, bool) {
	for _, d := range ds {
		if d.Severity == diag.Warning && d.Code == "policy" && strings.HasPrefix(d.Message, SLAWarningPrefix) {
			return d, true
		}
	}
	return diag.Diagnostic{}, false
}
