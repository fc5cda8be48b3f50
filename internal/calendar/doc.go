// Package calendar is the one owner of change freezes: it resolves the
// freezes of cab.cue, written in wall-clock time of an IANA time zone, to
// absolute instants, and answers whether a change window, or an instant,
// is frozen. The PR gate (input.calendar of the policies) and the
// reconciler (before every apply) both ask it.
//
// A freeze is one-off (start, end) or recurring: start is the first
// occurrence (RFC 5545 DTSTART), rrule an RFC 5545 recurrence rule
// evaluated on the wall clock by github.com/teambition/rrule-go, exdate
// the occurrences left out, and duration (ISO 8601, "P2DT16H") how long
// each lasts, measured on the wall clock: every Friday 16:00 for P2DT16H
// ends Monday 08:00 local even across a daylight-saving switch (the
// freeze is then 63 or 65 hours long). This differs from RFC 5545, where
// the hours of a DURATION are exact; it is what people mean by
// "Friday 16:00 to Monday 08:00".
//
// Freeze starts are inclusive. Ends are exclusive unless the freeze says
// endInclusive, in which case the instant at end is still frozen. Wall
// times that fall into a daylight-saving gap are moved forward by the
// length of the gap, as Go's time.Date does; a wall time that occurs twice
// (the repeated hour in autumn) resolves to its earlier instant for a start
// and its later instant for an end, so a freeze never shrinks. The time zone
// database is embedded, so results do not depend on the host.
//
// Expansion is bounded whatever cab.cue says: rules recurring more often
// than daily are refused; start must be the rule's first occurrence and
// every exdate an occurrence (so a rule that never occurs is refused when
// the calendar is built); a query walks at most MaxSteps occurrences and,
// past them, answers that the whole window is frozen (closed, never open);
// and returns at most MaxOccurrences occurrences of one freeze. Every
// problem is a FreezeError naming the freeze and its field, which the gate
// turns into a diagnostic at cab.cue's line and column.
package calendar
