package prom

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProc(t *testing.T) {
	st, err := parseStat([]byte("1234 (cab serve) (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 4200 1599819776 2084 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"))
	require.NoError(t, err)
	assert.Equal(t, procStat{utime: 250, stime: 50, start: 4200, vsize: 1599819776, rss: 2084}, st, "fields after the last ')' of the command name")

	boot, err := parseBootTime([]byte("cpu  1 2 3\nbtime 1796281000\nprocesses 5\n"))
	require.NoError(t, err)
	assert.Equal(t, uint64(1796281000), boot)

	files, space, err := parseLimits([]byte(`Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                40000                files
Max address space         unlimited            unlimited            bytes
`))
	require.NoError(t, err)
	assert.Equal(t, 20000.0, files, "the soft limit")
	assert.Equal(t, float64(math.MaxUint64), space, "unlimited, as procfs reads it")

	in, out, err := parseNetstat([]byte("TcpExt: SyncookiesSent\nTcpExt: 0\nIpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 195829696 2679884\n"))
	require.NoError(t, err)
	assert.Equal(t, 195829696.0, in)
	assert.Equal(t, 2679884.0, out)

	for name, parse := range map[string]func([]byte) error{
		"stat":    func(b []byte) error { _, err := parseStat(b); return err },
		"btime":   func(b []byte) error { _, err := parseBootTime(b); return err },
		"limits":  func(b []byte) error { _, _, err := parseLimits(b); return err },
		"netstat": func(b []byte) error { _, _, err := parseNetstat(b); return err },
	} {
		assert.Error(t, parse(nil), "%s: an unreadable file is refused", name)
		assert.Error(t, parse([]byte("garbage (")), "%s: garbage is refused", name)
	}
}

// FuzzParseProc feeds the /proc parsers arbitrary bytes: they may refuse
// them, never panic.
func FuzzParseProc(f *testing.F) {
	f.Add([]byte("1 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 4 5\n"))
	f.Add([]byte("btime 1\nMax open files 1 2 files\nMax address space unlimited unlimited bytes\nIpExt: InOctets OutOctets\nIpExt: 1 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b)
		_, _ = parseBootTime(b)
		_, _, _ = parseLimits(b)
		_, _, _ = parseNetstat(b)
	})
}
