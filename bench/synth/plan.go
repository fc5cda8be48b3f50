package synth

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// person writes, approves and merges changes.
type person struct {
	n     int // GitHub user id
	login string
	name  string
	tz    string // git time zone offset, e.g. "+0100"
}

func (p *person) id() string    { return fmt.Sprintf("github:%d", p.n) }
func (p *person) email() string { return fmt.Sprintf("%d+%s@users.noreply.github.com", p.n, p.login) }
func (p *person) ident() string { return fmt.Sprintf("%s <%s>", p.name, p.email()) }

// team owns services; its approvers approve their changes and its on-call
// group approves emergencies.
type team struct {
	name      string
	members   []int
	approvers []int
	oncall    []int
}

type service struct {
	name      string
	component string
	team      int
	burnRate  bool
	version   [3]int
	// merged lists the tickets of this service in merge order.
	merged []int
}

// pr is a pull request: a branch of commits adding tickets, merged into
// main.
type pr struct {
	num     int
	author  int
	service int
	tickets []int
	open    time.Time
	merge   time.Time
	// base is the index of the pull request whose merge the branch starts
	// from; -1 is the initial commit.
	base int
	// edits lists, for each commit after the first, the tickets it edits.
	edits     [][]int
	approvers []int
	merger    int
}

// plan is the whole synthetic repository before rendering.
type plan struct {
	opts     Options
	rng      *rand.Rand
	people   []person
	teams    []team
	services []service
	prs      []pr
	tickets  []ticket
	freezes  []freeze
	// svcWeights is the cumulative popularity of services.
	svcWeights []float64
}

type freeze struct {
	name     string
	start    string // local wall time
	end      string
	tz       string
	envs     []string
	reason   string
	from, to time.Time // UTC instants, widened by a day on each side
}

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Dennis", "Margaret", "Edsger", "Frances",
		"Radia", "Leslie", "Donald", "Sophie", "John", "Katherine", "Tim", "Anita", "Guido", "Hedy", "Rob", "Shafi",
		"Niklaus", "Jean", "Bjarne", "Karen", "Yukihiro", "Joan", "Brian", "Ivan", "Lynn", "Tony", "Mary", "Whitfield",
		"Ines", "Mateo", "Amara", "Kenji", "Priya", "Olu", "Freya", "Tariq", "Mei", "Lars", "Zanele", "Diego", "Anouk"}
	lastNames = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Ritchie", "Hamilton",
		"Dijkstra", "Allen", "Perlman", "Lamport", "Knuth", "Wilson", "Backus", "Johnson", "Berners-Lee", "Borg",
		"van Rossum", "Lamarr", "Pike", "Goldwasser", "Wirth", "Sammet", "Stroustrup", "Jones", "Matsumoto", "Clarke",
		"Kernighan", "Sutherland", "Conway", "Hoare", "Keller", "Diffie", "Okafor", "Nakamura", "Silva", "Novak",
		"Haddad", "Kowalski", "Mensah", "Lindqvist", "Chen", "Garcia", "Dubois", "Moreau", "Rossi"}
	timeZones = []string{"+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900", "+1000"}
	domains   = []string{"payments", "checkout", "identity", "search", "catalog", "orders", "billing", "shipping",
		"inventory", "pricing", "accounts", "notifications", "messaging", "media", "analytics", "ledger", "fraud",
		"reviews", "recommendations", "support", "loyalty", "partners", "tax", "returns", "auth", "profiles",
		"storefront", "ads", "maps", "booking", "quotes", "claims", "onboarding", "compliance", "reporting",
		"streaming", "gateway", "observability", "data", "platform"}
	components = []string{"api", "worker", "web", "scheduler", "db-migrator", "cache", "ingest", "exporter",
		"gateway", "consumer", "indexer", "notifier", "batch", "admin", "graphql", "sync"}
)

// Templates of standard changes, as declared in cab.cue.
type tmpl struct {
	name        string
	description string
	maxRisk     string
	approvals   int
	actionType  string
}

var templates = []tmpl{
	{"image-bump", "promote an image digest that passed staging", "low", 0, "oci"},
	{"config-flag", "flip a feature flag in the service's values", "low", 0, "git"},
	{"scale", "change the replica count within the service's limits", "medium", 1, "git"},
	{"cache-purge", "purge the CDN cache of the service through its deploy hook", "low", 0, "http"},
}

func newPlan(o Options) *plan {
	p := &plan{opts: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
	p.makePeople()
	p.makeTeams()
	p.makeServices()
	p.makeFreezes()
	p.makePRs()
	p.makeTickets()
	return p
}

func (p *plan) pick(n int) int { return p.rng.IntN(n) }

func (p *plan) chance(f float64) bool { return p.rng.Float64() < f }

// weighted picks an index of weights (which need not sum to 1).
func (p *plan) weighted(weights ...float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := p.rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func (p *plan) makePeople() {
	seen := map[string]bool{}
	for i := range p.opts.Authors {
		first := firstNames[p.pick(len(firstNames))]
		last := lastNames[p.pick(len(lastNames))]
		login := strings.ToLower(first[:1] + strings.NewReplacer(" ", "", "-", "").Replace(last))
		if seen[login] {
			login = fmt.Sprintf("%s%d", login, i)
		}
		seen[login] = true
		p.people = append(p.people, person{n: 1001 + i, login: login, name: first + " " + last, tz: timeZones[p.pick(len(timeZones))]})
	}
}

func (p *plan) makeTeams() {
	nt := max(1, (p.opts.Services+4)/5)
	for i := range nt {
		name := domains[i%len(domains)]
		if i >= len(domains) {
			name = fmt.Sprintf("%s%d", name, i/len(domains)+1)
		}
		p.teams = append(p.teams, team{name: name})
	}
	// Everyone belongs to a team; some people to two.
	order := p.rng.Perm(len(p.people))
	for k, i := range order {
		p.teams[k%nt].members = append(p.teams[k%nt].members, i)
	}
	for t := range p.teams {
		tm := &p.teams[t]
		for len(tm.members) < 4 || p.chance(0.15) && len(tm.members) < 12 {
			if i := p.pick(len(p.people)); !slices.Contains(tm.members, i) {
				tm.members = append(tm.members, i)
			}
		}
		slices.Sort(tm.members)
		// Approvers: the senior part of the team, at least three so that a
		// high-risk change finds two besides its author.
		na := min(len(tm.members), max(3, len(tm.members)*2/3))
		perm := p.rng.Perm(len(tm.members))
		for _, k := range perm[:na] {
			tm.approvers = append(tm.approvers, tm.members[k])
		}
		slices.Sort(tm.approvers)
		no := 2 + p.pick(2)
		for _, k := range p.rng.Perm(len(tm.approvers))[:min(no, len(tm.approvers))] {
			tm.oncall = append(tm.oncall, tm.approvers[k])
		}
		slices.Sort(tm.oncall)
	}
}

func (p *plan) makeServices() {
	nt := len(p.teams)
	total := 0.0
	for s := range p.opts.Services {
		t := s % nt
		k := s / nt
		comp := components[k%len(components)]
		name := p.teams[t].name + "-" + comp
		if k >= len(components) {
			name = fmt.Sprintf("%s%d", name, k/len(components)+1)
		}
		p.services = append(p.services, service{
			name: name, component: comp, team: t, burnRate: p.chance(0.3),
			version: [3]int{1 + p.pick(3), p.pick(20), p.pick(10)},
		})
		// Zipf-like popularity, shuffled so busy services are spread
		// over teams.
		total += 1 / float64(1+s)
	}
	w := make([]float64, len(p.services))
	for i, k := range p.rng.Perm(len(p.services)) {
		w[k] = 1 / float64(1+i) * 0.6
		w[k] += 0.4 / float64(len(p.services)) * total // a floor so that every service sees changes
	}
	acc := 0.0
	for _, x := range w {
		acc += x
		p.svcWeights = append(p.svcWeights, acc)
	}
}

func (p *plan) pickService() int {
	x := p.rng.Float64() * p.svcWeights[len(p.svcWeights)-1]
	i, _ := slices.BinarySearch(p.svcWeights, x)
	return min(i, len(p.svcWeights)-1)
}

var berlin = time.FixedZone("CET", 3600) // freezes are avoided with a day's margin: DST does not matter

func (p *plan) makeFreezes() {
	first := p.opts.Start.Year() - 1
	last := p.opts.Start.Add(p.opts.Span).Year() + 1
	for y := first; y <= last; y++ {
		p.freezes = append(p.freezes, freeze{
			name: fmt.Sprintf("year-end-%d", y), tz: "Europe/Berlin", reason: "year-end trading peak and reduced staffing",
			start: fmt.Sprintf("%d-12-20T00:00", y), end: fmt.Sprintf("%d-01-04T00:00", y+1),
			from: time.Date(y, 12, 19, 0, 0, 0, 0, berlin), to: time.Date(y+1, 1, 5, 0, 0, 0, 0, berlin),
		})
		// Black Friday: the fourth Thursday of November to the Tuesday after.
		d := time.Date(y, 11, 1, 0, 0, 0, 0, time.UTC)
		for d.Weekday() != time.Thursday {
			d = d.AddDate(0, 0, 1)
		}
		d = d.AddDate(0, 0, 21)
		e := d.AddDate(0, 0, 5)
		p.freezes = append(p.freezes, freeze{
			name: fmt.Sprintf("black-friday-%d", y), tz: "America/New_York", envs: []string{"prod"},
			reason: "peak sales", start: d.Format("2006-01-02") + "T00:00", end: e.Format("2006-01-02") + "T00:00",
			from: d.AddDate(0, 0, -1), to: e.AddDate(0, 0, 2),
		})
	}
}

// frozen returns the end of a freeze that [start, end) comes near, or the
// zero time.
func (p *plan) frozen(start, end time.Time) time.Time {
	for _, f := range p.freezes {
		if start.Before(f.to) && end.After(f.from) {
			return f.to
		}
	}
	return time.Time{}
}

func (p *plan) makePRs() {
	n := p.opts.Tickets
	np := (n + 1) / 2
	fixups := 0
	if c := p.opts.Commits; c > 0 {
		np = min(np, (c-1)/2)
		fixups = c - 1 - 2*np
	}
	// Every pull request adds at least one ticket and at most three when
	// there are enough pull requests for that.
	limit := max(3, (n+np-1)/np)
	sizes := make([]int, np)
	open := make([]int, np)
	for i := range sizes {
		sizes[i], open[i] = 1, i
	}
	for rest := n - np; rest > 0; rest-- {
		k := p.pick(len(open))
		i := open[k]
		sizes[i]++
		if sizes[i] == limit {
			open[k] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	step := p.opts.Span / time.Duration(np+1)
	var prev time.Time
	ticket := 0
	for i := range np {
		merge := p.opts.Start.Add(step*time.Duration(i+1) + time.Duration(p.rng.Int64N(int64(step)/2+1))).Truncate(time.Second)
		if !merge.After(prev) {
			merge = prev.Add(time.Second)
		}
		prev = merge
		svc := p.pickService()
		tm := &p.teams[p.services[svc].team]
		author := tm.members[p.pick(len(tm.members))]
		if p.chance(0.2) {
			author = p.pick(len(p.people))
		}
		r := pr{num: 100 + i, author: author, service: svc, merge: merge}
		for range sizes[i] {
			r.tickets = append(r.tickets, ticket)
			ticket++
		}
		p.prs = append(p.prs, r)
	}
	for range fixups {
		r := &p.prs[p.pick(np)]
		r.edits = append(r.edits, nil)
	}
	for i := range p.prs {
		r := &p.prs[i]
		for e := range r.edits {
			k := 1 + p.pick(min(3, len(r.tickets)))
			for _, j := range p.rng.Perm(len(r.tickets))[:k] {
				r.edits[e] = append(r.edits[e], r.tickets[j])
			}
			slices.Sort(r.edits[e])
		}
	}
}

func (p *plan) makeTickets() {
	p.tickets = make([]ticket, p.opts.Tickets)
	seq := map[int]int{} // next id per year
	root := p.opts.Start.Add(-24 * time.Hour)
	for i := range p.prs {
		r := &p.prs[i]
		kinds := make([]string, len(r.tickets))
		emergency := false
		for k := range kinds {
			kinds[k] = []string{"normal", "standard", "emergency"}[p.weighted(0.6, 0.35, 0.05)]
			emergency = emergency || kinds[k] == "emergency"
		}
		// How long the pull request was open: minutes for emergencies,
		// hours to days otherwise, and never before the initial commit.
		var age time.Duration
		if emergency {
			age = time.Duration(10+p.pick(50)) * time.Minute
		} else {
			age = time.Duration(30+p.rng.ExpFloat64()*600) * time.Minute
			age = min(age, 14*24*time.Hour)
		}
		r.open = r.merge.Add(-age).Truncate(time.Second)
		if !r.open.After(root) {
			r.open = root.Add(time.Minute)
		}
		r.base = -1
		for b := i - 1; b >= 0; b-- {
			if !p.prs[b].merge.After(r.open) {
				r.base = b
				break
			}
		}
		for k, ti := range r.tickets {
			y := r.open.Year()
			seq[y]++
			p.tickets[ti] = p.makeTicket(r, ti, fmt.Sprintf("CHG-%d-%04d", y, seq[y]), kinds[k])
		}
		p.approve(r)
		for _, ti := range r.tickets {
			s := &p.services[p.tickets[ti].service]
			s.merged = append(s.merged, ti)
		}
	}
}

// approve picks the approvers of a pull request: enough members of the
// right group, never its author.
func (p *plan) approve(r *pr) {
	tm := &p.teams[p.services[r.service].team]
	need, oncall := 0, false
	for _, ti := range r.tickets {
		t := &p.tickets[ti]
		need = max(need, t.approvals())
		oncall = oncall || t.kind == "emergency"
	}
	if p.chance(0.2) {
		need++
	}
	add := func(group []int, n int) {
		for _, k := range p.rng.Perm(len(group)) {
			if n <= 0 {
				return
			}
			if a := group[k]; a != r.author && !slices.Contains(r.approvers, a) {
				r.approvers = append(r.approvers, a)
				n--
			}
		}
	}
	if oncall {
		add(tm.oncall, 1) // on-call groups have two members or more: one is not the author
	}
	add(tm.approvers, need-len(r.approvers))
	r.merger = r.author
	if len(r.approvers) > 0 && p.chance(0.5) {
		r.merger = r.approvers[0]
	}
}
