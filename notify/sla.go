package notify

import (
	"fmt"
	"time"

	"github.com/cabhq/cab/model"
)

// Breach is an open pull request past its approval SLA.
type Breach struct {
	PR      int64
	Service string
	Risk    string
	// Level is model.SLABreached or model.SLAEscalated.
	Level int
	// Backup names the backup group (model.SLA.Backup).
	Backup string
	// Approvers are who can approve (the service's group); BackupApprovers
	// the backup group's members, told at model.SLAEscalated.
	Approvers, BackupApprovers []string
	// Reason says why, e.g. the gate's warning.
	Reason string
	At     time.Time
}

// NotifySLA notifies each escalation level b has reached and was not
// notified yet: the approver group at model.SLABreached, the backup group
// at model.SLAEscalated (level 1 first when a poll finds a pull request
// already escalated). Each level is one event, SLAEventID(pr, level), so
// a pull request is told about once per level however often it is
// polled. It returns how many levels were newly notified.
func (n *Notifier) NotifySLA(b Breach) int {
	sent := 0
	for level := model.SLABreached; level <= min(b.Level, model.SLAEscalated); level++ {
		ev := Event{ID: SLAEventID(b.PR, level), Kind: KindSLABreach, Service: b.Service, Risk: b.Risk,
			PR: b.PR, Reason: b.Reason, Approvers: b.Approvers, At: b.At}
		if level == model.SLAEscalated {
			ev.Approvers = b.BackupApprovers
			ev.Reason = fmt.Sprintf("escalated to the backup group %q: %s", b.Backup, b.Reason)
		}
		if n.Notify(ev) {
			sent++
		}
	}
	return sent
}
