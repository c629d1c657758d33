package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

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
	for b.Loop() {
		i++
		r := e.do("PUT", "/api/v1/hosted_zones/example.test/records/r1.example.test/A", fmt.Sprintf(`{"values":["198.51.100.%d"]}`, i%250+1))
		if r.status != http.StatusOK {
			b.Fatalf("PUT = %d %s", r.status, r.body)
		}
	}
}
