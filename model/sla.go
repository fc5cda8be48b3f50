package model

import "time"

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
