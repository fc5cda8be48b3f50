package github

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultBaseURL is the REST API of github.com.
	DefaultBaseURL = "https://api.github.com"

	// MaxPages bounds every paginated listing. With 100 items a page a
	// listing holds at most 5,000 items; one that has more is an error,
	// never a silently truncated answer (a dropped page could hide a
	// "changes requested" review or a pusher).
	MaxPages = 50

	perPage = 100

	// maxResponseBytes bounds one response body.
	maxResponseBytes = 32 << 20

	// defaultTimeout bounds one request when New is given no client.
	defaultTimeout = 30 * time.Second

	apiVersion = "2022-11-28"
	userAgent  = "cab (+https://github.com/cabhq/cab)"
)

// Permissions named in error hints: what the workflow's `permissions:`
// block must grant for each call.
const (
	permReadPulls     = "pull-requests: read"
	permWriteStatuses = "statuses: write"
	permWriteComments = "pull-requests: write"
)

// Client reads pull request evidence from, and reports results to, the
// GitHub REST API. Its zero value is not usable: make one with New.
type Client struct {
	// BaseURL is the API root, DefaultBaseURL on github.com and
	// https://HOST/api/v3 on GitHub Enterprise Server.
	BaseURL string
	// Token is sent as a bearer token; empty sends no credentials, which
	// only reads public repositories.
	Token string
	// HTTP sends the requests.
	HTTP *http.Client
}

// New returns a client for the API at baseURL (DefaultBaseURL when
// empty) that authenticates with token. A nil hc gets a client with a
// 30 second timeout.
func New(baseURL, token string, hc *http.Client) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: hc}
}

// APIError is an answer of the GitHub API with an unexpected status.
type APIError struct {
	Method     string
	URL        string
	StatusCode int
	// Message is GitHub's own explanation, when it sent one.
	Message string
	// Hint says what to check, e.g. which permission the token lacks.
	Hint string
}

// Error says what failed, GitHub's message and what to check.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	return b.String()
}

// ErrHeadMoved reports that the pull request's head is no longer the
// commit the check ran on: its evidence would describe another commit, so
// the check must run again on the new head.
var ErrHeadMoved = errors.New("pull request head moved")

// ErrTooManyPages reports a listing longer than MaxPages pages.
var ErrTooManyPages = errors.New("listing exceeds the page limit")

// hint explains a failed request: perm is the permission the call needs,
// msg GitHub's message.
func hint(status int, perm string, h http.Header, msg string) string {
	switch status {
	case http.StatusUnauthorized:
		return "the token was rejected: pass a valid token, in Actions `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`"
	case http.StatusForbidden, http.StatusTooManyRequests:
		if h.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				return "API rate limit exhausted until " + time.Unix(reset, 0).UTC().Format(time.RFC3339)
			}
			return "API rate limit exhausted"
		}
		if status == http.StatusTooManyRequests || h.Get("Retry-After") != "" || strings.Contains(strings.ToLower(msg), "rate limit") {
			return "secondary rate limit: retry after " + cmp.Or(h.Get("Retry-After"), "60") + " seconds"
		}
		return "the token lacks `" + perm + "`: grant it in the workflow's `permissions:` block (a pull request from a fork gets a read-only token)"
	case http.StatusNotFound:
		return "check owner, repository and number; GitHub also answers 404 when the token cannot see a private repository (it needs `contents: read` and `" + perm + "`)"
	}
	return ""
}

// request sends one request and decodes a JSON answer into out (unless
// nil). It returns the response headers for pagination.
func (c *Client) request(ctx context.Context, method, u, perm string, in, out any) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("User-Agent", userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
	}()
	lr := io.LimitReader(resp.Body, maxResponseBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Method: method, URL: redact(u), StatusCode: resp.StatusCode}
		var msg struct {
			Message string `json:"message"`
		}
		if b, err := io.ReadAll(io.LimitReader(lr, 64<<10)); err == nil && json.Unmarshal(b, &msg) == nil {
			e.Message = msg.Message
		}
		e.Hint = hint(resp.StatusCode, perm, resp.Header, e.Message)
		return nil, e
	}
	if out != nil {
		if err := json.NewDecoder(lr).Decode(out); err != nil {
			return nil, fmt.Errorf("%s %s: decoding answer: %w", method, redact(u), err)
		}
	}
	return resp.Header, nil
}

// redact drops the query from u for error messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// listAll fetches every page of the listing at path (relative to the
// base URL), following the Link header's rel="next" for at most MaxPages
// pages.
func listAll[T any](ctx context.Context, c *Client, path, perm string) ([]T, error) {
	base, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing base URL: %w", err)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	next := c.BaseURL + path + sep + "per_page=" + strconv.Itoa(perPage)
	var all []T
	for page := 0; page < MaxPages; page++ {
		var items []T
		h, err := c.request(ctx, http.MethodGet, next, perm, nil, &items)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		link, ok := nextLink(h.Get("Link"))
		if !ok {
			return all, nil
		}
		// Follow the link only to the API we were given: the token must
		// not travel to another host.
		lu, err := url.Parse(link)
		if err != nil || lu.Scheme != base.Scheme || lu.Host != base.Host {
			return nil, fmt.Errorf("listing %s: next page %q is not on %s", path, link, c.BaseURL)
		}
		next = link
	}
	return nil, fmt.Errorf("listing %s: %w (%d pages of %d)", path, ErrTooManyPages, MaxPages, perPage)
}

// nextLink returns the rel="next" target of an RFC 8288 Link header.
func nextLink(header string) (string, bool) {
	for part := range strings.SplitSeq(header, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
				return target[1 : len(target)-1], true
			}
		}
	}
	return "", false
}

// repoPath is /repos/{owner}/{repo}, each part escaped.
func repoPath(owner, repo string) (string, error) {
	if owner == "" || repo == "" {
		return "", errors.New("owner and repository must not be empty")
	}
	return "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo), nil
}
