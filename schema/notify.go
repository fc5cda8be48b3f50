package schema

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/cabhq/cab/internal/diag"
)

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
