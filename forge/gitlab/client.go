package gitlab

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

const (
	// DefaultBaseURL is gitlab.com.
	DefaultBaseURL = "https://gitlab.com"

	// MaxPages bounds every paginated listing. With 100 items a page a
	// listing holds at most 5,000 items; one that has more is an error,
	// never a silently truncated answer.
	MaxPages = 50

	perPage = 100

	// defaultTimeout bounds one request when New is given no client.
	defaultTimeout = 30 * time.Second
)

// Token scopes named in error hints.
const (
	scopeRead  = "read_api"
	scopeWrite = "api"
)

// Client reads merge request evidence from, and reports results to, the
// GitLab REST API (v4) through client-go.
type Client struct {
	api *gitlab.Client
}

// New returns a client for the GitLab instance at baseURL (its web root,
// e.g. https://gitlab.example.com, or its API root ending in /api/v4;
// DefaultBaseURL when empty) that authenticates with a personal, project
// or group access token. A nil hc gets a client with a 30 second timeout.
//
// Retries are off: the gate fails fast and says why, and the CI job can
// be re-run, rather than hiding an outage behind minutes of back-off.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("GitLab URL %q: want http(s)://host[/api/v4]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	api, err := gitlab.NewClient(token,
		// client-go logs URL warnings to slog.Default; a library prints nothing.
		gitlab.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
		gitlab.WithBaseURL(baseURL),
		gitlab.WithHTTPClient(hc),
		gitlab.WithoutRetries(),
	)
	if err != nil {
		return nil, fmt.Errorf("making GitLab client: %w", err)
	}
	return &Client{api: api}, nil
}

// APIError is an answer of the GitLab API with an unexpected status.
type APIError struct {
	// Op says what cab was doing, e.g. "reading merge request 42!7".
	Op         string
	StatusCode int
	// Hint says what to check, e.g. which token scope or role is missing.
	Hint string
	Err  error
}

// Error says what failed, GitLab's answer and what to check.
func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: %v", e.Op, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns client-go's error (gitlab.ErrNotFound, *gitlab.ErrorResponse).
func (e *APIError) Unwrap() error { return e.Err }

// ErrHeadMoved reports that the merge request's head is no longer the
// commit the check ran on, or that GitLab has not yet recorded the new
// head's diff version: the check must run again.
var ErrHeadMoved = errors.New("merge request head moved")

// ErrTooManyPages reports a listing longer than MaxPages pages.
var ErrTooManyPages = errors.New("listing exceeds the page limit")

// ErrNotMergeRequest reports a CI job that is not part of a merge
// request pipeline.
var ErrNotMergeRequest = errors.New("not a merge request pipeline")

// wrap turns a client-go failure into an error that says what to fix.
// scope is the token scope the call needs; role the project role.
func wrap(op string, resp *gitlab.Response, err error, scope, role string) error {
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	if errors.Is(err, gitlab.ErrNotFound) {
		status = http.StatusNotFound
	}
	var h string
	switch status {
	case http.StatusUnauthorized:
		h = "the token was rejected: pass a valid personal, project or group access token with scope " + scope + " (CI_JOB_TOKEN cannot read merge request approvals)"
	case http.StatusForbidden:
		h = "the token lacks scope " + scope + " or its user lacks the " + role + " role in the project"
	case http.StatusNotFound:
		h = "check the project and merge request; GitLab also answers 404 when the token cannot see the project (it needs scope " + scope + " and at least the " + role + " role)"
	case 0:
		return fmt.Errorf("%s: %w", op, err)
	}
	return &APIError{Op: op, StatusCode: status, Hint: h, Err: err}
}
