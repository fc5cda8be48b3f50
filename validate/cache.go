package validate

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/cabhq/cab/internal/selfid"
	"github.com/cabhq/cab/internal/verdictcache"
)

// The verdict cache (cab check on files, see CheckPaths) keeps each
// ticket's Result across runs. A verdict is a function of:
//
//   - the cab binary (the schema, the default policies, CUE's evaluator and
//     every check in Go): the sha256 of the executable;
//   - the environment variables that change CUE's evaluator;
//   - the job without its time: cab.cue, every policy file, mode, review,
//     changed files, open tickets, skipped policies, isolation;
//   - the ticket file: its name as given and its bytes;
//   - the time, only through the facts the evaluator computes from it (the
//     ticket's calendar facts and the freeze listing the policies see) and,
//     when a policy may read input.now (policy.MayReadNow), now itself.
//
// Everything but the time-derived facts is hashed into the key. The facts
// are stored with the verdict, with the window they were computed from, and
// the sandboxed child recomputes them at the current time (it holds the
// calendar of cab.cue): the stored verdict is used only when they are equal
// byte for byte, else the ticket is evaluated afresh. Entries are
// authenticated (internal/verdictcache), so an entry nobody holding the
// secret wrote is a miss, never a verdict.

// cacheVersion changes whenever what an entry holds changes meaning.
const cacheVersion = "cab-verdict-v1"

// facts are the time-derived inputs of a verdict.
type facts struct {
	// Window is the ticket's window and environments, as the schema
	// exported them: what Calendar is computed from.
	Window window `json:"window"`
	// Calendar is the JSON of the ticket's policy.TicketCalendar.
	Calendar json.RawMessage `json:"calendar"`
	// Shared is the sha256 of the JSON of the policies' shared input (mode,
	// freezes), with now left out when no policy may read it.
	Shared []byte `json:"shared"`
}

// cached is one stored verdict.
type cached struct {
	Result Result `json:"result"`
	Facts  facts  `json:"facts"`
}

// evaluatorEnv are the environment variables that can change what CUE or
// the Go runtime of the child computes.
var evaluatorEnv = []string{"CUE_EXPERIMENT", "CUE_DEBUG", "GODEBUG"}

// verdicts is the verdict cache of one check target.
type verdicts struct {
	cache *verdictcache.Cache
	// base is the key prefix shared by every ticket of the target.
	base []byte
}

// openVerdicts opens the verdict cache of the repository at root for job,
// or returns nil when there is none to use (no git directory, no usable
// secret, the binary unreadable).
func openVerdicts(root string, job Job) *verdicts {
	gitDir := verdictcache.GitDir(root)
	if gitDir == "" {
		return nil
	}
	secret, err := verdictcache.SecretFile()
	if err != nil {
		return nil
	}
	c, err := verdictcache.Open(gitDir, secret)
	if err != nil {
		return nil
	}
	bin, err := selfid.Digest()
	if err != nil {
		return nil
	}
	job.Now = time.Time{} // only through the facts
	jb, err := json.Marshal(job)
	if err != nil {
		return nil
	}
	parts := [][]byte{[]byte(cacheVersion), bin[:]}
	for _, k := range evaluatorEnv {
		v, ok := os.LookupEnv(k)
		parts = append(parts, []byte(fmt.Sprintf("%s=%t:%s", k, ok, v)))
	}
	jd := sha256.Sum256(jb)
	parts = append(parts, jd[:])
	base := verdictcache.Key(parts...)
	return &verdicts{cache: c, base: base[:]}
}

func (v *verdicts) key(f File) [sha256.Size]byte {
	return verdictcache.Key(v.base, []byte(f.Name), f.Source)
}

// lookup returns the stored verdict of each ticket, nil where there is none.
func (v *verdicts) lookup(files []File) []*cached {
	if v == nil {
		return nil
	}
	out := make([]*cached, len(files))
	for i, f := range files {
		b, ok := v.cache.Get(v.key(f))
		if !ok {
			continue
		}
		var c cached
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if dec.Decode(&c) != nil || c.Result.File != f.Name {
			continue
		}
		out[i] = &c
	}
	return out
}

// store keeps the verdicts evaluated afresh by a run that no budget cut
// short: fx[i] is set only for those.
func (v *verdicts) store(files []File, results []Result, fx []*facts) {
	if v == nil {
		return
	}
	stored := false
	for i, f := range fx {
		if f == nil || !storable(results[i]) {
			continue
		}
		b, err := json.Marshal(cached{Result: results[i], Facts: *f})
		if err != nil {
			continue
		}
		_ = v.cache.Put(v.key(files[i]), b) // a verdict not kept is only evaluated again
		stored = true
	}
	if stored {
		// Entries of rules no longer in use are never asked for again:
		// keep the cache bounded (an entry lost is evaluated again).
		_ = v.cache.Trim(verdictcache.MaxEntries)
	}
}

// storable refuses verdicts that say evaluation did not finish.
func storable(r Result) bool {
	for _, d := range r.Diags {
		if d.Code == "budget" || d.Code == "internal" {
			return false
		}
	}
	return true
}

// stillHolds reports whether a stored verdict's time-derived facts are what
// e computes now.
func (e *Evaluator) stillHolds(fx facts) bool {
	cal, err := json.Marshal(e.calendarFor(fx.Window))
	return err == nil && bytes.Equal(cal, fx.Calendar) && bytes.Equal(e.sharedFacts, fx.Shared)
}
