package htmlreport

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/controls"
)

// view is what the template prints: every value already formatted.
type view struct {
	Title, Repository string
	CSS               template.CSS
	CSP               string
	Generated         timeView
	Range             string
	Timezone          string
	Period            string
	ProdEnv           string
	Verify            *verifyView
	Cards             []card
	Services          []serviceView
	Charts            []*chart
	Changes           []changeView
	Controls          *controlsView
}

// controlsView is the controls section: one row per objective, and the
// exceptions once each with the objectives they break.
type controlsView struct {
	Results    []controlView
	Exceptions []exceptionView
}

type controlView struct {
	ID, Title, Evidence, Count, Status string
	Controls                           []string
	// Class is "good" or "bad".
	Class string
}

type exceptionView struct {
	controls.Exception
	Objectives string
}

func newControlsView(a *controls.Assessment) *controlsView {
	if a == nil {
		return nil
	}
	cv := &controlsView{}
	index := map[controls.Exception]int{}
	for _, r := range a.Results {
		row := controlView{ID: r.ID, Title: r.Title, Evidence: r.Evidence, Status: string(r.Status), Class: "good",
			Count: fmt.Sprintf("%d of %d change(s) in the period carry it; %d exception(s)", r.Evidenced, r.Assessed, len(r.Exceptions))}
		if r.Status != controls.Satisfied {
			row.Class = "bad"
		}
		for _, c := range r.Controls {
			row.Controls = append(row.Controls, string(c.Framework)+" "+c.ID)
		}
		cv.Results = append(cv.Results, row)
		for _, e := range r.Exceptions {
			i, ok := index[e]
			if !ok {
				i = len(cv.Exceptions)
				index[e] = i
				cv.Exceptions = append(cv.Exceptions, exceptionView{Exception: e})
			}
			if cv.Exceptions[i].Objectives != "" {
				cv.Exceptions[i].Objectives += ", "
			}
			cv.Exceptions[i].Objectives += r.ID
		}
	}
	return cv
}

type timeView struct{ ISO, Text string }

func newTime(t time.Time, loc *time.Location) timeView {
	if t.IsZero() {
		return timeView{}
	}
	t = t.In(loc)
	return timeView{ISO: t.Format(time.RFC3339), Text: t.Format("2006-01-02 15:04 MST")}
}

type verifyView struct {
	OK                     bool
	Tickets, Signed, Event int
	Head                   string
	Breaks                 []breakView
}

type card struct {
	Label, Value, Detail string
	// Class is "", "good" or "bad".
	Class string
}

type serviceView struct {
	Service, Merged, Emergency, Unsigned, Approval, Success, Rollback, Deployments, Failure, Lead, MTTR string
}

type changeView struct {
	ID, Title, Service, Kind, Risk string
	Merged                         timeView
	PR, PRURL                      string
	Commit, CommitURL              string
	Author, Approvers              string
	Signature                      string
	Envs                           []envView
	Outcome                        string
}

type envView struct{ Env, Outcome, Title, Reason string }

// breakView is a break of cab verify as the page prints it.
type breakView struct {
	audit.Break
	Sentence string
	Details  []string
}

func rate(r *float64, n, d int) string {
	if r == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", *r*100, n, d)
}

func stats(s audit.DurationStats) string {
	if s.Count == 0 {
		return "–"
	}
	return audit.ShortDuration(s.P50) + " / " + audit.ShortDuration(s.P90)
}

func newView(d *Data) *view {
	loc, err := time.LoadLocation(d.Timezone)
	if err != nil {
		loc = time.UTC
	}
	where := d.ProdEnv
	if where == "" {
		where = "production"
	}
	v := &view{
		Title: d.Title, Repository: d.Repository, CSS: template.CSS(pageCSS), CSP: contentSecurityPolicy(),
		Generated: newTime(d.GeneratedAt, loc), Timezone: d.Timezone, Period: d.Period, ProdEnv: where,
		Charts: charts(d.Series, d.ProdEnv), Controls: newControlsView(d.Controls),
	}
	switch {
	case d.Since.IsZero() && d.Until.IsZero():
		v.Range = "all history"
	case d.Until.IsZero():
		v.Range = "since " + d.Since.In(loc).Format(time.RFC3339)
	case d.Since.IsZero():
		v.Range = "until " + d.Until.In(loc).Format(time.RFC3339)
	default:
		v.Range = d.Since.In(loc).Format(time.RFC3339) + " to " + d.Until.In(loc).Format(time.RFC3339)
	}
	if r := d.Verify; r != nil {
		v.Verify = &verifyView{OK: len(r.Breaks) == 0, Tickets: r.Tickets, Signed: r.Signed, Event: r.Events,
			Head: r.LedgerHead}
		for _, b := range r.Breaks {
			s, d := b.Readable()
			v.Verify.Breaks = append(v.Verify.Breaks, breakView{Break: b, Sentence: s, Details: d})
		}
	}
	s := d.Summary
	failure := card{Label: "Change failure rate", Value: rate(s.ChangeFailureRate, s.DeploymentsFailed, s.DeploymentsFinished),
		Detail: "of deployments to " + where}
	if s.DeploymentsFailed > 0 {
		failure.Class = "bad"
	}
	unsigned := card{Label: "Unsigned", Value: fmt.Sprint(s.Unsigned), Detail: "merged without passing the gate"}
	if s.Unsigned > 0 {
		unsigned.Class = "bad"
	}
	mttr := card{Label: "Time to restore", Value: stats(s.TimeToRestore), Detail: "p50 / p90"}
	if s.Unrestored > 0 {
		mttr.Detail += fmt.Sprintf(", %d not restored", s.Unrestored)
		mttr.Class = "bad"
	}
	v.Cards = []card{
		{Label: "Changes merged", Value: fmt.Sprint(s.Merged), Detail: rate(s.EmergencyShare, s.Emergency, s.Merged) + " emergency"},
		{Label: "Deployments", Value: fmt.Sprint(s.Deployments), Detail: "to " + where},
		{Label: "Change success rate", Value: rate(s.SuccessRate, s.Succeeded, s.Finished), Detail: "of finished changes"},
		{Label: "Rollback rate", Value: rate(s.RollbackRate, s.RolledBack, s.Finished), Detail: "of finished changes"},
		failure,
		{Label: "Lead time", Value: stats(s.LeadTime), Detail: "merge to " + where + ", p50 / p90"},
		{Label: "Approval lead time", Value: stats(s.ApprovalLeadTime), Detail: "opened to approved, p50 / p90"},
		mttr,
		unsigned,
	}
	for _, r := range d.Services {
		v.Services = append(v.Services, serviceView{
			Service: r.Service, Merged: fmt.Sprint(r.Merged), Emergency: rate(r.EmergencyShare, r.Emergency, r.Merged),
			Unsigned: fmt.Sprint(r.Unsigned), Approval: stats(r.ApprovalLeadTime),
			Success: rate(r.SuccessRate, r.Succeeded, r.Finished), Rollback: rate(r.RollbackRate, r.RolledBack, r.Finished),
			Deployments: fmt.Sprint(r.Deployments),
			Failure:     rate(r.ChangeFailureRate, r.DeploymentsFailed, r.DeploymentsFinished),
			Lead:        stats(r.LeadTime), MTTR: stats(r.TimeToRestore),
		})
	}
	for _, c := range d.Changes {
		cv := changeView{
			ID: c.ID, Title: c.Title, Service: c.Service, Kind: c.Kind, Risk: c.Risk,
			Merged: newTime(c.MergedAt, loc), PRURL: c.PRURL, CommitURL: c.CommitURL,
			Author: c.Author, Approvers: strings.Join(c.Approvers, ", "), Signature: c.Signature, Outcome: c.Outcome,
		}
		if c.PR > 0 {
			cv.PR = fmt.Sprintf("#%d", c.PR)
		}
		cv.Commit = c.MergeCommit[:min(12, len(c.MergeCommit))]
		for _, e := range c.Environments {
			title := e.Env + ": " + e.Outcome
			if e.Reason != "" {
				title += " (" + e.Reason + ")"
			}
			cv.Envs = append(cv.Envs, envView{Env: e.Env, Outcome: e.Outcome, Title: title, Reason: e.Reason})
		}
		v.Changes = append(v.Changes, cv)
	}
	return v
}
