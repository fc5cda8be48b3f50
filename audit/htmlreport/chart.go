package htmlreport

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/audit"
)

// Chart geometry, in SVG user units; the SVG scales to its container.
const (
	chartWidth  = 640.0
	chartHeight = 240.0
	plotLeft    = 56.0
	plotRight   = 12.0
	plotTop     = 28.0
	plotBottom  = 44.0
	maxXLabels  = 12
)

// chart is an SVG chart laid out in Go: the template only prints numbers
// and escaped text.
type chart struct {
	ID, Title string
	// Desc says what the chart shows, for screen readers.
	Desc          string
	Width, Height float64
	// The plot area.
	X0, Y0, X1, Y1 float64
	YTicks         []tick
	XLabels        []tick
	Bars           []bar
	Lines          []line
	Legend         []legendItem
	// Empty is set when there is nothing to draw.
	Empty bool
	// Unit names the y axis, XTitle the x axis; YMid is the middle of
	// the y axis, where its name is written.
	Unit   string
	XTitle string
	YMid   float64
	// top is the value at the top of the y axis.
	top float64
}

type tick struct {
	X, Y  float64
	Label string
}

type bar struct {
	X, Y, W, H float64
	Class      string
	// Title is the tooltip: the exact value and period.
	Title string
}

type line struct {
	Class string
	// Segments are polylines ("x,y x,y ..."), broken where a period has no
	// value.
	Segments []string
	Dots     []dot
}

type dot struct {
	X, Y  float64
	Title string
}

type legendItem struct {
	X, Y  float64
	Class string
	Label string
}

// series is one named sequence of values, one per period (NaN: none).
type series struct {
	Label  string
	Class  string
	Values []float64
	// Titles are the tooltips, one per period.
	Titles []string
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that
// divides max into at most 5 intervals.
func niceStep(max float64) float64 {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		return 1
	}
	raw := max / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// newChart lays out the axes of a chart over periods, with a y axis from 0
// to at least max.
func newChart(id, title, unit string, periods []string, max float64, integer bool) *chart {
	c := &chart{ID: id, Title: title, Unit: unit, Width: chartWidth, Height: chartHeight,
		X0: plotLeft, Y0: plotTop, X1: chartWidth - plotRight, Y1: chartHeight - plotBottom}
	step := niceStep(max)
	if integer {
		step = math.Max(1, math.Ceil(step))
	}
	top := math.Max(step, math.Ceil(max/step)*step)
	for v := 0.0; v <= top+step/2; v += step {
		label := trimFloat(v)
		c.YTicks = append(c.YTicks, tick{X: c.X0, Y: c.y(v, top), Label: label})
	}
	every := 1
	if n := len(periods); n > maxXLabels {
		every = (n + maxXLabels - 1) / maxXLabels
	}
	for i, p := range periods {
		if i%every == 0 {
			c.XLabels = append(c.XLabels, tick{X: c.xCenter(i, len(periods)), Y: c.Y1 + 16, Label: p})
		}
	}
	c.top = top
	c.XTitle = "period"
	c.YMid = (c.Y0 + c.Y1) / 2
	return c
}

// y maps v to the plot, 0 at the bottom and top at the top.
func (c *chart) y(v, top float64) float64 { return c.Y1 - (v/top)*(c.Y1-c.Y0) }

func (c *chart) slot(n int) float64 { return (c.X1 - c.X0) / float64(max(n, 1)) }

func (c *chart) xCenter(i, n int) float64 { return c.X0 + c.slot(n)*(float64(i)+0.5) }

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func (c *chart) legend(ss []series) {
	x := c.X0
	for _, s := range ss {
		c.Legend = append(c.Legend, legendItem{X: x, Y: c.Height - 14, Class: s.Class, Label: s.Label})
		x += 14 + 7*float64(len(s.Label)) + 18
	}
}

// barChart draws the series side by side in each period.
func barChart(id, title, unit string, periods []string, ss []series, integer bool) *chart {
	top := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = math.Max(top, v)
			}
		}
	}
	c := newChart(id, title, unit, periods, top, integer)
	c.legend(ss)
	n := len(periods)
	slot := c.slot(n)
	group := slot * 0.7
	w := group / float64(len(ss))
	for i := range periods {
		left := c.X0 + slot*float64(i) + (slot-group)/2
		for j, s := range ss {
			v := s.Values[i]
			if math.IsNaN(v) {
				continue
			}
			y := c.y(v, c.top)
			c.Bars = append(c.Bars, bar{X: left + w*float64(j), Y: y, W: math.Max(w-1, 1), H: c.Y1 - y,
				Class: s.Class, Title: s.Titles[i]})
		}
	}
	c.Empty = len(c.Bars) == 0
	return c
}

// lineChart draws each series as a polyline with a dot per value.
func lineChart(id, title, unit string, periods []string, ss []series) *chart {
	top := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = math.Max(top, v)
			}
		}
	}
	c := newChart(id, title, unit, periods, top, false)
	c.legend(ss)
	n := len(periods)
	for _, s := range ss {
		l := line{Class: s.Class}
		var seg []string
		flush := func() {
			if len(seg) > 0 {
				l.Segments = append(l.Segments, strings.Join(seg, " "))
			}
			seg = nil
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				flush()
				continue
			}
			x, y := c.xCenter(i, n), c.y(v, c.top)
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x, y))
			l.Dots = append(l.Dots, dot{X: x, Y: y, Title: s.Titles[i]})
		}
		flush()
		c.Lines = append(c.Lines, l)
	}
	// The first series is drawn last, on top.
	slices.Reverse(c.Lines)
	c.Empty = true
	for _, l := range c.Lines {
		if len(l.Dots) > 0 {
			c.Empty = false
		}
	}
	return c
}

// durationUnit picks the unit that shows durations up to max readably.
func durationUnit(max time.Duration) (string, time.Duration) {
	switch {
	case max < 2*time.Hour:
		return "minutes", time.Minute
	case max < 72*time.Hour:
		return "hours", time.Hour
	}
	return "days", 24 * time.Hour
}

// charts draws throughput, lead times and failure rate over the periods
// of rows (one row per period, no grouping).
func charts(rows []audit.MetricsRow, prodEnv string) []*chart {
	periods := make([]string, len(rows))
	for i, r := range rows {
		periods[i] = r.Period
	}
	where := prodEnv
	if where == "" {
		where = "production"
	}
	nan := math.NaN()

	merged := series{Label: "changes merged", Class: "s1"}
	deployed := series{Label: "deployments to " + where, Class: "s2"}
	for _, r := range rows {
		merged.Values = append(merged.Values, float64(r.Merged))
		merged.Titles = append(merged.Titles, fmt.Sprintf("%s: %d change(s) merged", r.Period, r.Merged))
		deployed.Values = append(deployed.Values, float64(r.Deployments))
		deployed.Titles = append(deployed.Titles, fmt.Sprintf("%s: %d deployment(s) to %s", r.Period, r.Deployments, where))
	}
	throughput := barChart("chart-throughput", "Throughput", "changes", periods, []series{merged, deployed}, true)
	throughput.Desc = "Changes merged and deployments to " + where + " per period."

	var longest time.Duration
	for _, r := range rows {
		longest = max(longest, r.LeadTime.P90, r.ApprovalLeadTime.P50)
	}
	unitName, unit := durationUnit(longest)
	p50 := series{Label: "lead time p50", Class: "s1"}
	p90 := series{Label: "lead time p90", Class: "s2"}
	approval := series{Label: "approval p50", Class: "s4"}
	add := func(s *series, st audit.DurationStats, d time.Duration, what string, period string) {
		if st.Count == 0 {
			s.Values = append(s.Values, nan)
			s.Titles = append(s.Titles, "")
			return
		}
		s.Values = append(s.Values, float64(d)/float64(unit))
		s.Titles = append(s.Titles, fmt.Sprintf("%s: %s %s (%d change(s))", period, what, audit.ShortDuration(d), st.Count))
	}
	for _, r := range rows {
		add(&p50, r.LeadTime, r.LeadTime.P50, "merge to "+where+" p50", r.Period)
		add(&p90, r.LeadTime, r.LeadTime.P90, "merge to "+where+" p90", r.Period)
		add(&approval, r.ApprovalLeadTime, r.ApprovalLeadTime.P50, "approval lead time p50", r.Period)
	}
	lead := lineChart("chart-lead-time", "Lead time", unitName, periods, []series{p50, p90, approval})
	lead.Desc = "Lead time from merge to verified in " + where + " (p50 and p90) and approval lead time (p50), in " + unitName + ", per period."

	cfr := series{Label: "change failure rate", Class: "s3"}
	rollback := series{Label: "rollback rate", Class: "s5"}
	for _, r := range rows {
		if r.ChangeFailureRate == nil {
			cfr.Values = append(cfr.Values, nan)
			cfr.Titles = append(cfr.Titles, "")
		} else {
			cfr.Values = append(cfr.Values, *r.ChangeFailureRate*100)
			cfr.Titles = append(cfr.Titles, fmt.Sprintf("%s: %.1f%% of deployments to %s failed (%d/%d)",
				r.Period, *r.ChangeFailureRate*100, where, r.DeploymentsFailed, r.DeploymentsFinished))
		}
		if r.RollbackRate == nil {
			rollback.Values = append(rollback.Values, nan)
			rollback.Titles = append(rollback.Titles, "")
		} else {
			rollback.Values = append(rollback.Values, *r.RollbackRate*100)
			rollback.Titles = append(rollback.Titles, fmt.Sprintf("%s: %.1f%% of finished changes rolled back (%d/%d)",
				r.Period, *r.RollbackRate*100, r.RolledBack, r.Finished))
		}
	}
	failure := barChart("chart-failure-rate", "Failure rate", "percent", periods, []series{cfr, rollback}, false)
	failure.Desc = "Change failure rate of deployments to " + where + " and rollback rate of changes, in percent, per period."
	return []*chart{throughput, lead, failure}
}
