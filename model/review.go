package model

// Review is the review evidence policies see as input.review: the change's
// author, pushers and merger, and the approvals of its final head. It is
// derived from the forge's evidence in one place (forge.Evidence.Review),
// which has already dropped approvals of other commits and the merger's.
type Review struct {
	Forge  string `json:"forge"`
	Number int64  `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	// Author is the stable id of the pull request's author ("github:583231").
	Author string `json:"author"`
	// Pushers are the ids of everyone who pushed a commit to the change.
	Pushers []string `json:"pushers"`
	// Merger is the id of whoever merged the change ("" before the merge);
	// segregation of duties: author, approvers and merger are three people.
	Merger    string     `json:"merger"`
	Approvals []Approval `json:"approvals"`
	Labels    []string   `json:"labels"`
	HeadSHA   string     `json:"headSHA,omitempty"`
	// MergeCommit is the commit the forge records as the merge ("" before).
	MergeCommit string `json:"mergeCommit,omitempty"`
	// OpenedAt is when the change was proposed (the forge's created_at),
	// RFC 3339 in UTC; "" when the forge did not say. The approval SLA
	// counts from it.
	OpenedAt string `json:"openedAt,omitempty"`
}

// Approval is one approval of the change's final head.
type Approval struct {
	ID    string `json:"id"`
	Login string `json:"login,omitempty"`
	At    string `json:"at,omitempty"`
	// Commit is the head the approval was given on.
	Commit string `json:"commit,omitempty"`
}
