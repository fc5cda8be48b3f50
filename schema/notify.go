package schema

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/cabhq/cab/internal/diag"
)

// SLA is the approval SLA of a change: how long its pull request may wait
// for approvals, who is told when it waits longer, and when the backup
// group is told.
type SLA struct {
	// Wait is how long the pull request may wait.
	Wait time.Duration
	// Escalate is how long after the breach the backup group is told.
	Escalate time.Duration
	// Backup names the backup approver group ("" when none).
	Backup string
}

// SLAFor returns the approval SLA of a change of service at risk, and
// false when cab.cue sets none. A service's own entry overrides the risk
// table and backup group.
func (c *Config) SLAFor(service, risk string) (SLA, bool) {
	a := c.ApprovalSLA
	if a == nil {
		return SLA{}, false
	}
	wait, backup := a.Risk[risk], a.Backup
	if s, ok := a.Services[service]; ok {
		if w, ok := s.Risk[risk]; ok {
			wait = w
		}
		if s.Backup != "" {
			backup = s.Backup
		}
	}
	d, err := time.ParseDuration(wait)
	if wait == "" || err != nil || d <= 0 {
		return SLA{}, false
	}
	sla := SLA{Wait: d, Escalate: d, Backup: backup}
	if e, err := time.ParseDuration(a.EscalateAfter); err == nil && e > 0 {
		sla.Escalate = e
	}
	return sla, true
}

// SLA escalation levels (SLA.Level).
const (
	// SLAWithin: the pull request has not waited past its SLA.
	SLAWithin = 0
	// SLABreached: it has waited longer than Wait; the approver group is
	// told.
	SLABreached = 1
	// SLAEscalated: the breach has lasted longer than Escalate more; the
	// backup group is told too.
	SLAEscalated = 2
)

// Level is how far a pull request opened at opened and still short of
// approvals at now is past its SLA: SLAWithin, SLABreached or
// SLAEscalated. A zero opened is never breached. The default policy's
// approval-SLA warning (policy/defaults/approvals.cue, _overdue and
// _escalated) mirrors this arithmetic; a test holds them together.
func (s SLA) Level(opened, now time.Time) int {
	if opened.IsZero() || s.Wait <= 0 {
		return SLAWithin
	}
	waited := now.Sub(opened)
	switch {
	case waited > s.Wait+s.Escalate:
		return SLAEscalated
	case waited > s.Wait:
		return SLABreached
	}
	return SLAWithin
}

// crossRefs reports what #Config cannot say on its own: a route naming
// a sink that does not exist, an SLA naming an approver group or service
// cab.cue does not declare, a duration that is zero.
func (p *ParsedConfig) crossRefs() diag.List {
	var ds diag.List
	add := func(path, msg, hint string) {
		l, c := p.Position(path)
		ds = append(ds, diag.Diagnostic{File: p.File, Line: l, Column: c, Path: path, Severity: diag.Error,
			Code: "config", Message: msg, Hint: hint})
	}
	c := &p.Config
	if n := c.Notify; n != nil {
		for i, r := range n.Routes {
			for j, s := range r.Sinks {
				if _, ok := n.Sinks[s]; !ok {
					add(fmt.Sprintf("notify.routes[%d].sinks[%d]", i, j), fmt.Sprintf("sink %q is not declared", s),
						"declare it under notify: sinks:, or fix the name")
				}
			}
		}
	}
	a := c.ApprovalSLA
	if a == nil {
		return ds
	}
	group := func(path, name string) {
		if _, ok := c.Approvers[name]; name != "" && !ok {
			add(path, fmt.Sprintf("approver group %q is not declared", name), "declare it under approvers:")
		}
	}
	duration := func(path, v string) {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			add(path, fmt.Sprintf("%q is not a positive duration", v), `write a Go duration, e.g. "4h" or "90m"`)
		}
	}
	group("approvalSLA.backup", a.Backup)
	if a.EscalateAfter != "" {
		duration("approvalSLA.escalateAfter", a.EscalateAfter)
	}
	for _, r := range sortedKeys(a.Risk) {
		duration("approvalSLA.risk."+r, a.Risk[r])
	}
	for _, s := range sortedKeys(a.Services) {
		base := "approvalSLA.services." + label(s)
		if _, ok := c.Services[s]; !ok {
			add(base, fmt.Sprintf("service %q is not declared", s), "declare it under services:")
		}
		group(base+".backup", a.Services[s].Backup)
		for _, r := range sortedKeys(a.Services[s].Risk) {
			duration(base+".risk."+r, a.Services[s].Risk[r])
		}
	}
	return ds
}

// label quotes a field name for a CUE path when it is not an identifier.
func label(s string) string {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return strconv.Quote(s)
		}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
