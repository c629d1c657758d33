package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/api"
)

// BenchmarkPutRecord measures one record change through the API (HTTP on
// loopback, two reads of the head, defaults, validation of the whole state,
// diff, commit) in a hosted zone of 10,000 records: the cost of the
// whole-state read-modify-write.
func BenchmarkPutRecord(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("hosted_zones:\n  - name: example.test\n    records:\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "      - { name: r%d.example.test, type: A, values: [192.0.2.%d] }\n", i, i%250+1)
	}
	e := newEnv(b, sb.String(), api.Config{})
	b.ReportAllocs()
	i := 0
	start := cpuTime()
	for b.Loop() {
		i++
		r := e.do("PUT", "/api/v1/hosted_zones/example.test/records/r1.example.test/A", fmt.Sprintf(`{"values":["198.51.100.%d"]}`, i%250+1))
		if r.status != http.StatusOK {
			b.Fatalf("PUT = %d %s", r.status, r.body)
		}
	}
	// CPU time of the whole process (handler, store, and the view rebuilt
	// for each version), which unlike ns/op does not depend on what else
	// runs on the machine.
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(i), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
