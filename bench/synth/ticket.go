package synth

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ticket is one change ticket of the plan.
type ticket struct {
	id       string
	pr       int // index into plan.prs
	service  int
	kind     string
	risk     string
	template string
	title    string
	descr    []string
	envs     []string
	start    time.Time
	end      time.Time
	deps     []string
	supers   string
	cancels  string
	links    obj
	incident obj
	actions  []obj
	pre      []obj
	post     []obj
	rollback any
}

// approvals is how many approvals the default policies want for t.
func (t *ticket) approvals() int {
	switch {
	case t.kind == "emergency":
		return 1
	case t.kind == "standard":
		return templateNamed(t.template).approvals
	case t.risk == "high" || t.risk == "critical":
		return 2
	}
	return 1
}

func templateNamed(name string) tmpl {
	for _, t := range templates {
		if t.name == name {
			return t
		}
	}
	panic("synth: unknown template " + name)
}

func (p *plan) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[p.rng.IntN(16)]
	}
	return string(b)
}

func (p *plan) digest() string { return "sha256:" + p.hex(64) }

var flags = []string{"new-checkout-flow", "async-refunds", "dark-mode", "v2-search-ranking", "strict-rate-limits",
	"batch-writes", "edge-caching", "grpc-transport", "lazy-loading", "audit-trail", "multi-region-reads"}

var reasons = []string{
	"Fixes a connection-pool leak that slowly raised p99 latency (see the linked pull request).",
	"Soaked in staging for 24 hours: no new errors, latency within the usual band.",
	"Behind a feature flag that stays off until product signs off.",
	"Picks up the security patches of the base image (CVE fixes in openssl and zlib).",
	"Requested by the on-call after last week's capacity review.",
	"No schema change; the previous version reads and writes the same data.",
	"The rollout is gradual: the canary takes 10% of traffic for 15 minutes first.",
	"Customer impact: none expected; support has been told about the window.",
	"Load test at twice the peak traffic passed; results are in the dashboard.",
	"Reverts cleanly: the previous digest is recorded and restored automatically.",
	"Part of the quarterly dependency refresh agreed in the architecture review.",
	"Drops the deprecated v1 endpoints, unused for 90 days according to access logs.",
}

func (p *plan) version(s *service) string {
	switch {
	case p.chance(0.02):
		s.version = [3]int{s.version[0] + 1, 0, 0}
	case p.chance(0.2):
		s.version = [3]int{s.version[0], s.version[1] + 1, 0}
	default:
		s.version[2]++
	}
	return fmt.Sprintf("%d.%d.%d", s.version[0], s.version[1], s.version[2])
}

func (p *plan) ociAction(s *service, version string) obj {
	img := fmt.Sprintf("registry.example.com/%s/%s@%s", s.name, s.component, p.digest())
	a := obj{{"type", "oci"}, {"target", "images"}, {"image", img}, {"tag", version}}
	if p.chance(0.3) {
		a = append(a, kv{"repository", s.name + "/" + s.component})
	}
	return a
}

func (p *plan) gitAction(s *service, version string) obj {
	a := obj{{"type", "git"}, {"target", "deploy"}}
	if p.chance(0.5) {
		a = append(a, kv{"file", fmt.Sprintf("apps/%s/values.yaml", s.name)},
			kv{"set", obj{{"path", ".image.tag"}, {"value", version}}})
	} else {
		a = append(a, kv{"file", fmt.Sprintf("apps/%s/kustomization.yaml", s.name)},
			kv{"kustomizeImage", obj{{"name", fmt.Sprintf("registry.example.com/%s/%s", s.name, s.component)}, {"digest", p.digest()}}})
	}
	if p.chance(0.4) {
		a = append(a, kv{"message", fmt.Sprintf("%s: deploy %s", s.name, version)})
	}
	return a
}

func (p *plan) httpAction(s *service, version string) obj {
	return obj{{"type", "http"}, {"target", "hooks"}, {"method", []string{"POST", "PUT"}[p.pick(2)]},
		{"path", fmt.Sprintf("/v1/services/%s/deploy", s.name)},
		{"body", inline{{"version", version}, {"drain", p.chance(0.5)}, {"batchSize", 1 + p.pick(5)}}}}
}

func (p *plan) httpCheck(s *service) obj {
	c := obj{{"type", "http"}}
	if p.chance(0.5) {
		c = append(c, kv{"name", "health"})
	}
	c = append(c, kv{"url", fmt.Sprintf("https://%s.internal.example.com/healthz", s.name)},
		kv{"expectStatus", 200}, kv{"maxLatency", []string{"200ms", "300ms", "500ms", "1s"}[p.pick(4)]})
	if p.chance(0.3) {
		c = append(c, kv{"timeout", "5s"})
	}
	if p.chance(0.2) {
		c = append(c, kv{"bodyRegex", "ok|healthy"})
	}
	return c
}

// promCheck returns one of three kinds of prometheus check.
func (p *plan) promCheck(s *service, kind int) obj {
	sel := fmt.Sprintf(`service="%s"`, s.name)
	switch kind {
	case 0:
		return obj{{"type", "prometheus"}, {"name", "error rate"},
			{"query", fmt.Sprintf(`sum(rate(http_requests_total{%s,code=~"5.."}[5m])) / sum(rate(http_requests_total{%s}[5m]))`, sel, sel)},
			{"op", "<"}, {"threshold", number(0.01)}, {"for", "1m"}}
	case 1:
		return obj{{"type", "prometheus"}, {"name", "p99 latency"},
			{"query", fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{%s}[5m])))`, sel)},
			{"op", "<="}, {"threshold", number(0.25 * float64(1+p.pick(4)))}, {"for", "2m"}}
	default:
		return obj{{"type", "prometheus"}, {"name", "ready replicas"},
			{"query", fmt.Sprintf(`min(kube_deployment_status_replicas_available{deployment="%s"})`, s.name)},
			{"op", ">="}, {"threshold", 2 + p.pick(3)}}
	}
}

// makeTicket draws the ticket ti of pull request r.
func (p *plan) makeTicket(r *pr, ti int, id, kind string) ticket {
	s := &p.services[r.service]
	t := ticket{id: id, pr: r.num - 100, service: r.service, kind: kind}
	version := p.version(s)

	// Kind, risk and environments.
	switch kind {
	case "standard":
		tp := templates[p.pick(len(templates))]
		t.template, t.risk = tp.name, tp.maxRisk
		if tp.maxRisk != "low" && p.chance(0.5) {
			t.risk = "low"
		}
	case "emergency":
		t.risk = []string{"medium", "high", "critical"}[p.weighted(0.15, 0.6, 0.25)]
	default:
		t.risk = []string{"low", "medium", "high", "critical"}[p.weighted(0.35, 0.4, 0.2, 0.05)]
	}
	switch {
	case kind == "emergency" && p.chance(0.7):
		t.envs = []string{"prod"}
	case kind != "emergency" && p.chance(0.22):
		t.envs = []string{"staging"}
	case kind != "emergency" && p.chance(0.08):
		t.envs = []string{"prod"}
	default:
		t.envs = []string{"staging", "prod"}
	}
	prod := slices.Contains(t.envs, "prod")

	// Actions, title and what the description says first.
	var lead string
	switch t.template {
	case "image-bump":
		t.actions = []obj{p.ociAction(s, version)}
		t.title = fmt.Sprintf("Promote %s to %s", s.name, version)
		lead = fmt.Sprintf("Promote the %s image of %s to %s, already verified in the pipeline.", s.component, s.name, version)
	case "config-flag":
		f := flags[p.pick(len(flags))]
		on := p.chance(0.7)
		t.actions = []obj{{{"type", "git"}, {"target", "flags"}, {"file", fmt.Sprintf("apps/%s/flags.yaml", s.name)},
			{"set", obj{{"path", ".flags." + f}, {"value", on}}}}}
		verb := map[bool]string{true: "Enable", false: "Disable"}[on]
		t.title = fmt.Sprintf("%s %s for %s", verb, f, s.name)
		lead = fmt.Sprintf("%s the %s feature flag of %s.", verb, f, s.name)
	case "scale":
		n := 2 + p.pick(30)
		t.actions = []obj{{{"type", "git"}, {"target", "deploy"}, {"file", fmt.Sprintf("apps/%s/deployment.yaml", s.name)},
			{"set", obj{{"path", ".spec.replicas"}, {"value", n}}}, {"message", fmt.Sprintf("scale %s to %d", s.name, n)}}}
		t.title = fmt.Sprintf("Scale %s to %d replicas", s.name, n)
		lead = fmt.Sprintf("Scale %s to %d replicas ahead of the expected traffic.", s.name, n)
	case "cache-purge":
		t.actions = []obj{{{"type", "http"}, {"target", "hooks"}, {"method", "POST"}, {"path", "/v1/cdn/purge"},
			{"body", inline{{"service", s.name}, {"paths", []string{"/static/*", "/assets/*"}}}}}}
		t.title = fmt.Sprintf("Purge the CDN cache of %s", s.name)
		lead = fmt.Sprintf("Purge the CDN cache of %s after the asset pipeline change.", s.name)
	default:
		// One to three actions of distinct types, oci the most common.
		types := []int{0, 1, 2}
		if p.chance(0.5) {
			types = []int{0, 2, 1}
		} else if p.chance(0.4) {
			types = []int{1, 0, 2}
		}
		for _, k := range types[:1+p.weighted(0.75, 0.22, 0.03)] {
			switch k {
			case 0:
				t.actions = append(t.actions, p.ociAction(s, version))
			case 1:
				t.actions = append(t.actions, p.gitAction(s, version))
			default:
				t.actions = append(t.actions, p.httpAction(s, version))
			}
		}
		if kind == "emergency" {
			t.title = []string{"Hotfix %s: release %s", "Emergency: roll %s forward to %s", "Hotfix %s connection limits (%s)"}[p.pick(3)]
		} else {
			t.title = []string{"Roll out %s %s", "Release %s %s to production", "Migrate %s database schema (%s)",
				"Rotate TLS certificates of %s (%s)", "Update the base image of %s (%s)"}[p.pick(5)]
		}
		t.title = fmt.Sprintf(t.title, s.name, version)
		lead = fmt.Sprintf("%s: %s.", t.title, []string{"a routine release", "requested by the service owners",
			"follows the incident review", "part of the platform upgrade"}[p.pick(4)])
	}
	t.descr = []string{lead}
	for range p.pick(3) {
		if l := reasons[p.pick(len(reasons))]; !slices.Contains(t.descr, l) {
			t.descr = append(t.descr, l)
		}
	}

	// Checks and rollback: the production policy wants all three.
	if prod || p.chance(0.5) {
		t.pre = append(t.pre, p.httpCheck(s))
		if p.chance(0.25) {
			// Prechecks run once: a hold (for) is for postchecks only.
			t.pre = append(t.pre, slices.DeleteFunc(p.promCheck(s, p.pick(3)), func(f kv) bool { return f.k == "for" }))
		}
	}
	if prod || p.chance(0.5) {
		for _, v := range p.rng.Perm(3)[:1+p.weighted(0.7, 0.25, 0.05)] {
			t.post = append(t.post, p.promCheck(s, v))
		}
	}
	var oci []obj
	for _, a := range t.actions {
		if a[0].v == "oci" {
			oci = append(oci, a)
		}
	}
	switch x := p.rng.Float64(); {
	case len(oci) > 0 && x < 0.25:
		var back []any
		for _, a := range oci {
			back = append(back, obj{{"type", "oci"}, {"target", "images"},
				{"image", fmt.Sprintf("registry.example.com/%s/%s@%s", s.name, s.component, p.digest())},
				{"tag", fmt.Sprintf("%s-previous", a[3].v)}})
		}
		t.rollback = obj{{"actions", back}}
	case prod || x < 0.7:
		t.rollback = inline{{"auto", true}}
	}

	// References to tickets merged before the branch started.
	var earlier []int
	for k := len(s.merged) - 1; k >= 0 && len(earlier) < 5; k-- {
		if o := s.merged[k]; p.tickets[o].pr <= r.base {
			earlier = append(earlier, o)
		}
	}
	switch {
	case len(earlier) > 0 && p.chance(0.12):
		t.deps = append(t.deps, p.tickets[earlier[0]].id)
		if len(earlier) > 1 && p.chance(0.2) {
			t.deps = append(t.deps, p.tickets[earlier[1+p.pick(len(earlier)-1)]].id)
		}
	case ti > r.tickets[0] && p.chance(0.3):
		t.deps = append(t.deps, p.tickets[ti-1].id) // an earlier ticket of the same pull request
	case r.base >= 0 && p.chance(0.03):
		last := p.prs[r.base].tickets
		t.deps = append(t.deps, p.tickets[p.pick(last[len(last)-1]+1)].id)
	}
	if kind == "normal" && len(earlier) > 0 {
		switch x := p.rng.Float64(); {
		case x < 0.015:
			t.supers = p.tickets[earlier[p.pick(len(earlier))]].id
		case x < 0.02 && !slices.Contains(t.deps, p.tickets[earlier[0]].id):
			t.cancels = p.tickets[earlier[0]].id
		}
	}

	// The window: after the merge, clear of freezes unless an emergency.
	if kind == "emergency" {
		t.start = r.open.Truncate(time.Minute)
		t.end = r.merge.Add(2 * time.Hour).Truncate(time.Minute)
		inc := fmt.Sprintf("INC-%05d", 1000+p.pick(90000))
		t.incident = obj{{"id", inc}, {"url", "https://incidents.example.com/" + inc}}
	} else {
		t.start = r.merge.Add(2*time.Hour + time.Duration(p.pick(94*4))*15*time.Minute).Truncate(15 * time.Minute)
		t.end = t.start.Add([]time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour}[p.pick(5)])
		for until := p.frozen(t.start, t.end); !until.IsZero(); until = p.frozen(t.start, t.end) {
			d := t.end.Sub(t.start)
			t.start = time.Date(until.Year(), until.Month(), until.Day(), 9, 0, 0, 0, time.UTC)
			t.end = t.start.Add(d)
		}
		if kind == "normal" && p.chance(0.03) {
			inc := fmt.Sprintf("INC-%05d", 1000+p.pick(90000))
			t.incident = obj{{"id", inc}, {"url", "https://incidents.example.com/" + inc}}
			t.descr = append(t.descr, fmt.Sprintf("Follow-up to %s.", inc))
		}
	}

	t.links = obj{{"pr", fmt.Sprintf("https://github.com/acme/changes/pull/%d", r.num)}}
	if p.chance(0.4) {
		t.links = append(t.links, kv{"runbook", fmt.Sprintf("https://runbooks.example.com/%s/deploy", s.name)})
	}
	if p.chance(0.5) {
		t.links = append(t.links, kv{"dashboard", fmt.Sprintf("https://grafana.example.com/d/%s/overview", s.name)})
	}
	if p.chance(0.15) {
		t.links = append(t.links, kv{"docs", fmt.Sprintf("https://docs.example.com/services/%s", s.name)})
	}
	return t
}

// node returns the ticket as a CUE value. A draft (draft > 0) differs in
// its description only.
func (t *ticket) node(p *plan, draft int) obj {
	s := &p.services[t.service]
	descr := t.descr
	if draft > 0 {
		descr = append(slices.Clip(descr), fmt.Sprintf("Draft %d: still waiting for review comments.", draft))
	}
	var d any = descr[0]
	if len(descr) > 1 {
		d = multiline(descr)
	}
	o := obj{
		{"apiVersion", "cab.dev/v1"},
		{"id", t.id},
		{"title", t.title},
		{"description", d},
		{"kind", t.kind},
	}
	if t.template != "" {
		o = append(o, kv{"template", t.template})
	}
	o = append(o,
		kv{"risk", t.risk},
		kv{"owner", "team-" + p.teams[s.team].name},
		kv{"service", s.name},
		kv{"environments", t.envs},
		kv{"window", obj{{"start", t.start.Format(time.RFC3339)}, {"end", t.end.Format(time.RFC3339)}}},
	)
	if len(t.deps) > 0 {
		o = append(o, kv{"dependsOn", t.deps})
	}
	if t.supers != "" {
		o = append(o, kv{"supersedes", t.supers})
	}
	if t.cancels != "" {
		o = append(o, kv{"cancels", t.cancels})
	}
	o = append(o, kv{"links", t.links})
	if t.incident != nil {
		o = append(o, kv{"incident", t.incident})
	}
	o = append(o, kv{"actions", objs(t.actions)})
	if len(t.pre) > 0 {
		o = append(o, kv{"prechecks", objs(t.pre)})
	}
	if len(t.post) > 0 {
		o = append(o, kv{"postchecks", objs(t.post)})
	}
	if t.rollback != nil {
		o = append(o, kv{"rollback", t.rollback})
	}
	return o
}

func objs(l []obj) []any {
	out := make([]any, len(l))
	for i, o := range l {
		out[i] = o
	}
	return out
}

// path is the ticket's file in the repository.
func (t *ticket) path(p *plan) string {
	return "changes/" + p.services[t.service].name + "/" + t.id + ".cue"
}

// comment is the first line of a ticket file.
func (t *ticket) comment() string {
	return "// " + strings.TrimSuffix(t.title, ".") + "."
}
