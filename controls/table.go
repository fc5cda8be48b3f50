package controls

// Framework names a control framework.
type Framework string

// The frameworks the table maps to.
const (
	SOC2    Framework = "SOC 2"
	ISO2022 Framework = "ISO/IEC 27001:2022"
	SOX     Framework = "SOX ITGC"
)

// Control is one control of a framework.
type Control struct {
	Framework Framework `json:"framework"`
	// ID is the control's identifier in the framework, e.g. "CC8.1".
	ID string `json:"id"`
	// OSCALID is the control id used in OSCAL documents (a token:
	// lower case, dots and dashes).
	OSCALID string `json:"oscalId"`
	// Title is the control's short name.
	Title string `json:"title"`
}

// ExceptionKind is a kind of exception Assess looks for.
type ExceptionKind string

// The exception kinds.
const (
	// Unsigned: merged without passing the gate (no signed ledger event).
	Unsigned ExceptionKind = "unsigned-merge"
	// SelfApproved: the author or the merger is among the approvers.
	SelfApproved ExceptionKind = "segregation-of-duties"
	// FailedChange: the change failed its checks or was rolled back.
	FailedChange ExceptionKind = "failed-or-rolled-back"
	// NoPostReview: an emergency change has no post-review ticket past its
	// deadline.
	NoPostReview ExceptionKind = "emergency-without-post-review"
	// VerifyBreak: cab verify found a break in the chain of evidence.
	VerifyBreak ExceptionKind = "verify-break"
)

// Objective is one change-management objective: what it asks, which cab
// evidence answers it, the controls it belongs to and the exceptions that
// break it.
type Objective struct {
	// ID is a stable token, e.g. "approval".
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Evidence string    `json:"evidence"`
	Controls []Control `json:"controls"`
	// Breaks are the exception kinds that make the objective not
	// satisfied.
	Breaks []ExceptionKind `json:"breaks"`
}

var (
	cc81 = Control{Framework: SOC2, ID: "CC8.1", OSCALID: "soc2-cc8.1",
		Title: "Authorizes, designs, develops, configures, documents, tests, approves and implements changes"}
	a832 = Control{Framework: ISO2022, ID: "A.8.32", OSCALID: "iso27001-2022-a.8.32", Title: "Change management"}
)

func itgc(id, title string) Control {
	return Control{Framework: SOX, ID: id, OSCALID: "sox-itgc-" + id, Title: title}
}

// Table returns the mapping of cab's evidence to controls. It is the one
// place the mapping lives (the README documents it); a fresh copy is
// returned on every call.
func Table() []Objective {
	return []Objective{
		{
			ID: "approval", Title: "Changes are approved before they are made",
			Evidence: "the signed ledger event of each ticket (cab sign, DSSE): its predicate records the forge approvals the policy counted at merge; the reconciler applies only signed tickets",
			Controls: []Control{cc81, a832, itgc("cm-authorization", "Program changes are authorised and approved before implementation")},
			Breaks:   []ExceptionKind{Unsigned},
		},
		{
			ID: "segregation", Title: "Segregation of duties: author, approver and merger are different people",
			Evidence: "the signed predicate names the author, the approvers and the merger; cab check refuses approvals by the author",
			Controls: []Control{cc81, a832, itgc("cm-segregation", "Developers cannot approve or migrate their own changes")},
			Breaks:   []ExceptionKind{SelfApproved, Unsigned},
		},
		{
			ID: "testing", Title: "Changes are tested, before and after they are made",
			Evidence: "the prechecks and postchecks the reconciler ran, recorded as signed outcome events (verified, failed, rolled-back) per environment",
			Controls: []Control{cc81, a832, itgc("cm-testing", "Program changes are tested and the results reviewed")},
			Breaks:   []ExceptionKind{FailedChange},
		},
		{
			ID: "emergency", Title: "Emergency changes are reviewed after the fact",
			Evidence: "emergency tickets (kind: emergency) and the post-review tickets that name them (postReviewOf), due within emergency.postReviewDays of cab.cue",
			Controls: []Control{cc81, a832, itgc("cm-emergency", "Emergency changes are documented and reviewed after implementation")},
			Breaks:   []ExceptionKind{NoPostReview},
		},
		{
			ID: "traceability", Title: "Changes are traceable to authorised requests",
			Evidence: "each change is a ticket file merged through a pull request (merge commit, PR) and signed onto the ledger branch; cab verify checks the chain end to end",
			Controls: []Control{cc81, a832, itgc("cm-traceability", "Changes in production are traceable to an authorised change request")},
			Breaks:   []ExceptionKind{Unsigned, VerifyBreak},
		},
	}
}
