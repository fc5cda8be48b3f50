package prom

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// AddRuntime adds the Go runtime's and (on Linux) the process's series, as
// client_golang's default Go and process collectors expose them: go_* from
// runtime.ReadMemStats, debug.ReadGCStats and runtime/metrics, process_*
// from /proc/self. A /proc file that cannot be read leaves its series out.
func (r *Registry) AddRuntime() {
	r.add("go_*", goFamilies)
	r.add("process_*", processFamilies)
}

// memstat is one go_memstats_* series.
type memstat struct {
	name, help string
	counter    bool
	value      func(*runtime.MemStats) uint64
}

var memstats = []memstat{
	{"alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", false, func(m *runtime.MemStats) uint64 { return m.Alloc }},
	{"alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", true, func(m *runtime.MemStats) uint64 { return m.TotalAlloc }},
	{"buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", false, func(m *runtime.MemStats) uint64 { return m.BuckHashSys }},
	{"frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", true, func(m *runtime.MemStats) uint64 { return m.Frees }},
	{"gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", false, func(m *runtime.MemStats) uint64 { return m.GCSys }},
	{"heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", false, func(m *runtime.MemStats) uint64 { return m.HeapAlloc }},
	{"heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", false, func(m *runtime.MemStats) uint64 { return m.HeapIdle }},
	{"heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", false, func(m *runtime.MemStats) uint64 { return m.HeapInuse }},
	{"heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", false, func(m *runtime.MemStats) uint64 { return m.HeapObjects }},
	{"heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", false, func(m *runtime.MemStats) uint64 { return m.HeapReleased }},
	{"heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", false, func(m *runtime.MemStats) uint64 { return m.HeapSys }},
	{"mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", true, func(m *runtime.MemStats) uint64 { return m.Mallocs }},
	{"mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", false, func(m *runtime.MemStats) uint64 { return m.MCacheInuse }},
	{"mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", false, func(m *runtime.MemStats) uint64 { return m.MCacheSys }},
	{"mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", false, func(m *runtime.MemStats) uint64 { return m.MSpanInuse }},
	{"mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", false, func(m *runtime.MemStats) uint64 { return m.MSpanSys }},
	{"next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", false, func(m *runtime.MemStats) uint64 { return m.NextGC }},
	{"other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", false, func(m *runtime.MemStats) uint64 { return m.OtherSys }},
	{"stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", false, func(m *runtime.MemStats) uint64 { return m.StackInuse }},
	{"stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", false, func(m *runtime.MemStats) uint64 { return m.StackSys }},
	{"sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", false, func(m *runtime.MemStats) uint64 { return m.Sys }},
}

// runtimeSettings are the runtime/metrics client_golang's default Go
// collector exposes besides the memstats.
var runtimeSettings = []struct{ sample, name, help string }{
	{"/gc/gogc:percent", "go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent."},
	{"/gc/gomemlimit:bytes", "go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes."},
	{"/sched/gomaxprocs:threads", "go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads."},
}

func goFamilies(out []*dto.MetricFamily) []*dto.MetricFamily {
	var s Set
	s.Gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()), nil)
	threads, _ := runtime.ThreadCreateProfile(nil)
	s.Gauge("go_threads", "Number of OS threads created.", float64(threads), nil)
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	q := map[float64]float64{}
	for i, p := range gc.PauseQuantiles {
		q[float64(i)/4] = p.Seconds()
	}
	s.Summary("go_gc_duration_seconds", "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.",
		uint64(gc.NumGC), gc.PauseTotal.Seconds(), q, nil)
	s.Gauge("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(gc.LastGC.UnixNano())/1e9, nil)
	s.Gauge("go_info", "Information about the Go environment.", 1, Labels([]string{"version"}, []string{runtime.Version()}))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, m := range memstats {
		if m.counter {
			s.counter("go_memstats_"+m.name, m.help, float64(m.value(&ms)))
		} else {
			s.Gauge("go_memstats_"+m.name, m.help, float64(m.value(&ms)), nil)
		}
	}
	samples := make([]metrics.Sample, len(runtimeSettings))
	for i, rs := range runtimeSettings {
		samples[i].Name = rs.sample
	}
	metrics.Read(samples)
	for i, rs := range runtimeSettings {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			s.Gauge(rs.name, rs.help, float64(samples[i].Value.Uint64()), nil)
		}
	}
	return append(out, s.Families()...)
}

// counter adds one counter sample without labels.
func (s *Set) counter(name, help string, v float64) {
	f := s.family(name, help, dto.MetricType_COUNTER)
	f.Metric = append(f.Metric, &dto.Metric{Counter: &dto.Counter{Value: proto.Float64(v)}})
}

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux platform Go supports, as procfs assumes).
const userHZ = 100

func processFamilies(out []*dto.MetricFamily) []*dto.MetricFamily {
	if runtime.GOOS != "linux" {
		return out
	}
	var s Set
	if st, err := parseStat(readProc("/proc/self/stat")); err == nil {
		s.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", float64(st.utime+st.stime)/userHZ)
		s.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", float64(st.vsize), nil)
		s.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", float64(st.rss*uint64(os.Getpagesize())), nil)
		if boot, err := parseBootTime(readProc("/proc/stat")); err == nil {
			s.Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", float64(boot)+float64(st.start)/userHZ, nil)
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.Gauge("process_open_fds", "Number of open file descriptors.", float64(len(fds)), nil)
	}
	if files, space, err := parseLimits(readProc("/proc/self/limits")); err == nil {
		s.Gauge("process_max_fds", "Maximum number of open file descriptors.", files, nil)
		s.Gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", space, nil)
	}
	if in, outb, err := parseNetstat(readProc("/proc/self/net/netstat")); err == nil {
		s.counter("process_network_receive_bytes_total", "Number of bytes received by the process over the network.", in)
		s.counter("process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", outb)
	}
	return append(out, s.Families()...)
}

// readProc returns the content of a /proc file, nil when unreadable
// (which the parsers refuse).
func readProc(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil
	}
	return b
}

type procStat struct{ utime, stime, start, vsize, rss uint64 }

// parseStat reads the fields of /proc/<pid>/stat the process series need.
func parseStat(b []byte) (procStat, error) {
	// The command name, in parentheses, may hold spaces: fields follow
	// the last ')'. Field 3 (state) is f[0].
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, os.ErrInvalid
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return procStat{}, os.ErrInvalid
	}
	var st procStat
	for _, x := range []struct {
		field int // 1-based, as proc(5) numbers them
		dst   *uint64
	}{{14, &st.utime}, {15, &st.stime}, {22, &st.start}, {23, &st.vsize}, {24, &st.rss}} {
		v, err := strconv.ParseUint(f[x.field-3], 10, 64)
		if err != nil {
			return procStat{}, err
		}
		*x.dst = v
	}
	return st, nil
}

// parseBootTime reads the btime line of /proc/stat.
func parseBootTime(b []byte) (uint64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, os.ErrNotExist
}

// parseLimits reads the soft limits of open files and address space from
// /proc/<pid>/limits ("unlimited" as 2^64-1, as procfs reads it).
func parseLimits(b []byte) (files, space float64, err error) {
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		// "Max open files            1024                 4096                 files"
		var dst *float64
		rest, ok := strings.CutPrefix(line, "Max open files ")
		if ok {
			dst = &files
		} else if rest, ok = strings.CutPrefix(line, "Max address space "); ok {
			dst = &space
		} else {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, 0, os.ErrInvalid
		}
		if f[0] == "unlimited" {
			*dst = float64(^uint64(0))
		} else {
			v, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, 0, err
			}
			*dst = float64(v)
		}
		found++
	}
	if found != 2 {
		return 0, 0, os.ErrInvalid
	}
	return files, space, nil
}

// parseNetstat reads InOctets and OutOctets of the IpExt lines of
// /proc/<pid>/net/netstat (a header line of names, then one of values).
func parseNetstat(b []byte) (in, out float64, err error) {
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, ok := strings.CutPrefix(lines[i], "IpExt: ")
		values, ok2 := strings.CutPrefix(lines[i+1], "IpExt: ")
		if !ok || !ok2 {
			continue
		}
		n, v := strings.Fields(names), strings.Fields(values)
		for j := range min(len(n), len(v)) {
			x, err := strconv.ParseFloat(v[j], 64)
			if err != nil {
				continue
			}
			switch n[j] {
			case "InOctets":
				in = x
			case "OutOctets":
				out = x
			}
		}
		return in, out, nil
	}
	return 0, 0, os.ErrNotExist
}
