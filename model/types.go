package model

import (
	"encoding/json"
	"slices"
)

// Ticket is the Go view of #Ticket. Field names and JSON tags mirror the
// CUE schema exactly (a test proves it on every example).
type Ticket struct {
	APIVersion   string    `json:"apiVersion"`
	ID           string    `json:"id"`
	Title        string    `json:"title"`
	Description  string    `json:"description,omitempty"`
	Kind         string    `json:"kind"`
	Template     string    `json:"template,omitempty"`
	Risk         string    `json:"risk"`
	Owner        string    `json:"owner"`
	Service      string    `json:"service"`
	Environments []string  `json:"environments"`
	Window       Window    `json:"window"`
	DependsOn    []string  `json:"dependsOn,omitempty"`
	Supersedes   string    `json:"supersedes,omitempty"`
	Cancels      string    `json:"cancels,omitempty"`
	PostReviewOf string    `json:"postReviewOf,omitempty"`
	Links        *Links    `json:"links,omitempty"`
	Incident     *Incident `json:"incident,omitempty"`
	// Fixes names the changes whose incident this ticket fixes.
	Fixes      []string  `json:"fixes,omitempty"`
	Actions    []Action  `json:"actions,omitempty"`
	Prechecks  []Check   `json:"prechecks,omitempty"`
	Postchecks []Check   `json:"postchecks,omitempty"`
	Rollback   *Rollback `json:"rollback,omitempty"`
}

// Window is the time span in which a change may be applied (RFC 3339).
type Window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Links point at the context of a change.
type Links struct {
	PR        string `json:"pr,omitempty"`
	Runbook   string `json:"runbook,omitempty"`
	Dashboard string `json:"dashboard,omitempty"`
	Docs      string `json:"docs,omitempty"`
}

// Incident is the incident an emergency change answers.
type Incident struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// Action is one step the reconciler applies in each environment. Type
// selects which of the type-specific fields are set.
type Action struct {
	Type   string `json:"type"`
	Target string `json:"target"`

	// oci
	Image      string `json:"image,omitempty"`
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`

	// git
	File           string          `json:"file,omitempty"`
	Set            *SetValue       `json:"set,omitempty"`
	KustomizeImage *KustomizeImage `json:"kustomizeImage,omitempty"`
	Message        string          `json:"message,omitempty"`

	// http
	Method string          `json:"method,omitempty"`
	Path   string          `json:"path,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// SetValue writes Value at a YAML/JSON Path of a file.
type SetValue struct {
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// KustomizeImage sets an images: entry of a kustomization.
type KustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	// NewTag is the tag the digest was released as ("" removes the
	// entry's newTag: the digest alone names the image).
	NewTag string `json:"newTag,omitempty"`
	Digest string `json:"digest"`
}

// Check is a pre- or postcheck: an HTTP probe or a Prometheus query.
type Check struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`

	// http
	URL          string `json:"url,omitempty"`
	ExpectStatus int    `json:"expectStatus,omitempty"`
	BodyRegex    string `json:"bodyRegex,omitempty"`
	MaxLatency   string `json:"maxLatency,omitempty"`
	Timeout      string `json:"timeout,omitempty"`

	// prometheus
	Server    string   `json:"server,omitempty"`
	Query     string   `json:"query,omitempty"`
	Op        string   `json:"op,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	For       string   `json:"for,omitempty"`
}

// Rollback says how to undo a change.
type Rollback struct {
	Auto    *bool    `json:"auto,omitempty"`
	Actions []Action `json:"actions,omitempty"`
}

// Config is the Go view of #Config, a change repository's cab.cue.
type Config struct {
	APIVersion   string                   `json:"apiVersion"`
	Repository   string                   `json:"repository,omitempty"`
	LedgerBranch string                   `json:"ledgerBranch,omitempty"`
	Environments map[string]Environment   `json:"environments"`
	Promotion    []string                 `json:"promotion,omitempty"`
	Approvers    map[string]ApproverGroup `json:"approvers,omitempty"`
	Services     map[string]Service       `json:"services,omitempty"`
	Freezes      []Freeze                 `json:"freezes,omitempty"`
	Templates    map[string]Template      `json:"templates,omitempty"`
	Governance   *Governance              `json:"governance,omitempty"`
	Emergency    *EmergencyPolicy         `json:"emergency,omitempty"`
	Keys         []Key                    `json:"keys,omitempty"`
	MergeSigners []MergeSigner            `json:"mergeSigners,omitempty"`
	Notify       *Notify                  `json:"notify,omitempty"`
	ApprovalSLA  *ApprovalSLA             `json:"approvalSLA,omitempty"`
}

// Environment is a deployment environment and its targets.
type Environment struct {
	Protected  *bool             `json:"protected,omitempty"`
	Prometheus string            `json:"prometheus,omitempty"`
	Targets    map[string]Target `json:"targets,omitempty"`
	Drift      *DriftPolicy      `json:"drift,omitempty"`
}

// DriftPolicy is what `cab drift --heal` may do in an environment.
type DriftPolicy struct {
	// Heal lets --heal restore drifted keys.
	Heal bool `json:"heal,omitempty"`
	// HealProtected is needed besides Heal in a protected environment.
	HealProtected bool `json:"healProtected,omitempty"`
}

// HealRefusal says why `cab drift --heal` may not heal in e ("" when it
// may): heal is opt-in, and a protected environment needs healProtected
// too.
func (e Environment) HealRefusal() string {
	switch {
	case e.Drift == nil || !e.Drift.Heal:
		return "healing is not enabled for this environment (drift: heal: true in cab.cue)"
	case e.Protected != nil && *e.Protected && !e.Drift.HealProtected:
		return "the environment is protected and cab.cue does not allow healing it (drift: healProtected: true)"
	}
	return ""
}

// Target is where actions of one type apply in an environment.
type Target struct {
	Type     string `json:"type"`
	Registry string `json:"registry,omitempty"`
	Insecure *bool  `json:"insecure,omitempty"`
	URL      string `json:"url,omitempty"`
	Branch   string `json:"branch,omitempty"`
	Root     string `json:"root,omitempty"`
	Observe  string `json:"observe,omitempty"`
}

// ApproverGroup lists stable forge identities ("github:583231").
type ApproverGroup struct {
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members"`
}

// Service names who approves a service's changes.
type Service struct {
	Approvers string    `json:"approvers"`
	Oncall    string    `json:"oncall,omitempty"`
	Owner     string    `json:"owner,omitempty"`
	BurnRate  *BurnRate `json:"burnRate,omitempty"`
}

// BurnRate is an error-budget query that holds changes while it fires.
type BurnRate struct {
	Query     string  `json:"query"`
	Threshold float64 `json:"threshold"`
	Server    string  `json:"server,omitempty"`
}

// Freeze is a change freeze in local wall-clock time of an IANA zone.
type Freeze struct {
	Name  string `json:"name"`
	Start string `json:"start"`
	End   string `json:"end,omitempty"`
	// RRule, Duration and ExDate make the freeze recurring (RFC 5545).
	RRule        string   `json:"rrule,omitempty"`
	Duration     string   `json:"duration,omitempty"`
	ExDate       []string `json:"exdate,omitempty"`
	Timezone     string   `json:"timezone"`
	EndInclusive *bool    `json:"endInclusive,omitempty"`
	Environments []string `json:"environments,omitempty"`
	Reason       string   `json:"reason,omitempty"`
}

// Template is a pre-approved standard change.
type Template struct {
	Description string         `json:"description,omitempty"`
	MaxRisk     string         `json:"maxRisk"`
	Approvals   *int           `json:"approvals,omitempty"`
	ActionTypes []string       `json:"actionTypes,omitempty"`
	Ticket      map[string]any `json:"ticket,omitempty"`
}

// Key is a signer trusted by cab.cue, for the roles it lists: a public
// key, or (Keyless set, PublicKey empty) a Sigstore identity.
type Key struct {
	Name      string `json:"name"`
	PublicKey string `json:"publicKey,omitempty"`
	// Keyless, when set, trusts whoever holds a Fulcio certificate for
	// this identity (role RoleSign only).
	Keyless *Keyless `json:"keyless,omitempty"`
	// Roles says what the key is trusted for (RoleSign, RoleReconcile);
	// empty means RoleSign alone. Read it with HasRole.
	Roles []string `json:"roles,omitempty"`
}

// Keyless is a Sigstore signing identity trusted by cab.cue: the OIDC
// issuer of the certificate (exact match) and its subject alternative
// name (Subject exactly, or SubjectRegexp matching all of it), certified
// by a Fulcio CA of TrustedRoot and logged in one of its Rekor logs.
type Keyless struct {
	Issuer        string `json:"issuer"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegexp string `json:"subjectRegexp,omitempty"`
	// TrustedRoot is a Sigstore trusted_root.json document.
	TrustedRoot json.RawMessage `json:"trustedRoot"`
}

// AnchoredSubjectRegexp returns SubjectRegexp anchored at both ends, so
// that it matches a whole subject or nothing: "^(?:" + re + ")$".
func (k Keyless) AnchoredSubjectRegexp() string {
	if k.SubjectRegexp == "" {
		return ""
	}
	return "^(?:" + k.SubjectRegexp + ")$"
}

// Roles a trusted key may have.
const (
	// RoleSign: the key signs merged tickets (cab sign).
	RoleSign = "sign"
	// RoleReconcile: the key signs the reconciler's outcome events on the
	// ledger (cab reconcile, cab serve).
	RoleReconcile = "reconcile"
)

// HasRole reports whether k is trusted for role; a key listing no roles
// is trusted to sign tickets only.
func (k Key) HasRole(role string) bool {
	if len(k.Roles) == 0 {
		return role == RoleSign
	}
	return slices.Contains(k.Roles, role)
}

// KeysFor returns the keys of keys trusted for role.
func KeysFor(keys []Key, role string) []Key {
	var out []Key
	for _, k := range keys {
		if k.HasRole(role) {
			out = append(out, k)
		}
	}
	return out
}

// MergeSigner is a key that signs plain-git merge commits: Approved-by
// trailers count only on a merge commit one of them signed.
type MergeSigner struct {
	// Identity is "git:<email>".
	Identity string `json:"identity"`
	// PublicKey is an SSH public key ("ssh-ed25519 AAAA…") or an armored
	// OpenPGP public key block.
	PublicKey string `json:"publicKey"`
}

// Governance says who approves changes to cab.cue and policy/.
type Governance struct {
	Approvers string `json:"approvers"`
	Approvals *int   `json:"approvals,omitempty"`
}

// EmergencyPolicy says when an emergency's post-incident review is due.
type EmergencyPolicy struct {
	PostReviewDays *int `json:"postReviewDays,omitempty"`
}

// Notify is whom cab tells about what went wrong (cab.cue notify:).
type Notify struct {
	Sinks  map[string]Sink `json:"sinks"`
	Routes []Route         `json:"routes,omitempty"`
}

// Sink types.
const (
	SinkWebhook = "webhook"
	SinkSlack   = "slack"
	SinkEmail   = "email"
)

// Sink is where notifications go. Secrets are named by environment
// variable, never written in cab.cue.
type Sink struct {
	Type string `json:"type"`
	// webhook
	URL       string `json:"url,omitempty"`
	SecretEnv string `json:"secretEnv,omitempty"`
	// slack
	URLEnv string `json:"urlEnv,omitempty"`
	// email
	Host        string   `json:"host,omitempty"`
	Port        int      `json:"port,omitempty"`
	From        string   `json:"from,omitempty"`
	To          []string `json:"to,omitempty"`
	UsernameEnv string   `json:"usernameEnv,omitempty"`
	PasswordEnv string   `json:"passwordEnv,omitempty"`
}

// Route sends the events it matches to its sinks; an empty list matches
// everything.
type Route struct {
	Sinks        []string `json:"sinks"`
	Events       []string `json:"events,omitempty"`
	Services     []string `json:"services,omitempty"`
	Environments []string `json:"environments,omitempty"`
	Risks        []string `json:"risks,omitempty"`
}

// ApprovalSLA is how long a pull request may wait for its approvals.
type ApprovalSLA struct {
	Risk          map[string]string     `json:"risk"`
	Backup        string                `json:"backup,omitempty"`
	EscalateAfter string                `json:"escalateAfter,omitempty"`
	Services      map[string]ServiceSLA `json:"services,omitempty"`
}

// ServiceSLA overrides the approval SLA for one service.
type ServiceSLA struct {
	Risk   map[string]string `json:"risk,omitempty"`
	Backup string            `json:"backup,omitempty"`
}
