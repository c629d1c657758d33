// diff_test.go tests Diff (which resources an apply adds, changes and
// removes) and Summary (the one-line history entry).

package model

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	for _, tt := range []struct {
		name     string
		old, new func() *State // nil: a nil *State
		want     []string      // ResourceChange.String of each change, in order
	}{
		{name: "nil-to-nil", want: nil},
		{name: "same", old: baseState, new: baseState, want: nil},
		{
			name: "nil-to-base-adds-everything-in-state-order",
			new:  baseState,
			want: []string{
				"+regions[eu-west-1]", "+regions[us-east-1]",
				"+zones[euw1-az1]", "+zones[euw1-az2]",
				"+health_checks[web]",
				"+cidr_collections[offices]",
				"+hosted_zones[example.com.]",
				"+records[example.com./www.example.com./A/]",
				"+records[example.com./api.example.com./A/blue]",
				"+records[example.com./api.example.com./A/green]",
				"+records[example.com./app.example.com./A/main]",
				"+records[example.com./app.example.com./A/backup]",
				"+target_groups[web]",
				"+load_balancers[edge]",
				"+zonal_shifts[edge/euw1-az2]",
			},
		},
		{
			name: "base-to-empty-removes-everything",
			old:  baseState,
			new:  func() *State { return &State{} },
			want: []string{
				"-regions[eu-west-1]", "-regions[us-east-1]",
				"-zones[euw1-az1]", "-zones[euw1-az2]",
				"-health_checks[web]",
				"-cidr_collections[offices]",
				"-hosted_zones[example.com.]",
				"-records[example.com./www.example.com./A/]",
				"-records[example.com./api.example.com./A/blue]",
				"-records[example.com./api.example.com./A/green]",
				"-records[example.com./app.example.com./A/main]",
				"-records[example.com./app.example.com./A/backup]",
				"-target_groups[web]",
				"-load_balancers[edge]",
				"-zonal_shifts[edge/euw1-az2]",
			},
		},
		{
			name: "record-change-is-not-a-zone-change",
			old:  baseState,
			new:  mutState(func(s *State) { s.HostedZones[0].Records[recGreen].Weight = ptr(3) }),
			want: []string{"~records[example.com./api.example.com./A/green]"},
		},
		{
			name: "zone-change-is-not-a-record-change",
			old:  baseState,
			new:  mutState(func(s *State) { s.HostedZones[0].Comment = "prod" }),
			want: []string{"~hosted_zones[example.com.]"},
		},
		{
			name: "record-names-compare-canonically",
			old:  baseState,
			new: mutState(func(s *State) {
				// Same identity, different spelling: a change, not a remove and an add.
				s.HostedZones[0].Records[recWWW].Name = "WWW.Example.com."
			}),
			want: []string{"~records[example.com./www.example.com./A/]"},
		},
		{
			name: "zone-names-compare-canonically",
			old:  baseState,
			new:  mutState(func(s *State) { s.HostedZones[0].Name = "example.com." }),
			want: []string{"~hosted_zones[example.com.]"},
		},
		{
			name: "set-identifier-is-identity",
			old:  baseState,
			new:  mutState(func(s *State) { s.HostedZones[0].Records[recBlue].SetIdentifier = "cyan" }),
			want: []string{
				"+records[example.com./api.example.com./A/cyan]",
				"-records[example.com./api.example.com./A/blue]",
			},
		},
		{
			name: "type-is-identity",
			old:  baseState,
			new: mutState(func(s *State) {
				s.HostedZones[0].Records[recWWW].Type, s.HostedZones[0].Records[recWWW].Values = "AAAA", []string{"2001:db8::1"}
			}),
			want: []string{
				"+records[example.com./www.example.com./AAAA/]",
				"-records[example.com./www.example.com./A/]",
			},
		},
		{
			name: "same-record-in-another-zone-is-another-record",
			old:  baseState,
			new: mutState(func(s *State) {
				s.HostedZones = append(s.HostedZones, HostedZone{Name: "example.org", Records: []RecordSet{
					{Name: "www.example.com", Type: "A", Values: []string{"192.0.2.1"}},
				}})
			}),
			want: []string{
				"+hosted_zones[example.org.]",
				"+records[example.org./www.example.com./A/]",
			},
		},
		{
			name: "add-change-remove-in-one-kind",
			old: mutState(func(s *State) {
				s.TargetGroups = append(s.TargetGroups, tcpGroup("db"), tcpGroup("cache"))
			}),
			new: mutState(func(s *State) {
				api := tcpGroup("api")
				db := tcpGroup("db")
				db.Port = 5433
				s.TargetGroups = []TargetGroup{api, db, s.TargetGroups[0]}
			}),
			want: []string{"+target_groups[api]", "~target_groups[db]", "-target_groups[cache]"},
		},
		{
			name: "zonal-shift-identity-is-resource-and-zone",
			old:  baseState,
			new: mutState(func(s *State) {
				s.ZonalShifts[0].Comment = "still bad"
				s.ZonalShifts = append(s.ZonalShifts, ZonalShift{TargetGroup: "web", AwayFrom: "euw1-az1"})
			}),
			want: []string{"~zonal_shifts[edge/euw1-az2]", "+zonal_shifts[web/euw1-az1]"},
		},
		{
			name: "deep-change-inside-a-resource",
			old:  baseState,
			new:  mutState(func(s *State) { s.LoadBalancers[0].Listeners[0].DefaultAction.Forward.Stickiness = Duration(1) }),
			want: []string{"~load_balancers[edge]"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var old, new *State
			if tt.old != nil {
				old = tt.old()
			}
			if tt.new != nil {
				new = tt.new()
			}
			var got []string
			for _, c := range Diff(old, new) {
				got = append(got, c.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDiffLeavesInputsAlone checks that Diff does not change the states it
// compares (it strips records from copies of the hosted zones).
func TestDiffLeavesInputsAlone(t *testing.T) {
	old, new := baseState(), mutState(func(s *State) { s.HostedZones[0].Comment = "x" })()
	Diff(old, new)
	if !reflect.DeepEqual(old, baseState()) {
		t.Errorf("Diff() changed its old state")
	}
	if want := mutState(func(s *State) { s.HostedZones[0].Comment = "x" })(); !reflect.DeepEqual(new, want) {
		t.Errorf("Diff() changed its new state")
	}
	if len(new.HostedZones[0].Records) != 5 {
		t.Errorf("Diff() left %d records in the new zone, want 5", len(new.HostedZones[0].Records))
	}
}

func TestSummary(t *testing.T) {
	changes := func(n int) []ResourceChange {
		var cs []ResourceChange
		for i := range n {
			cs = append(cs, ResourceChange{Kind: "target_groups", Name: fmt.Sprintf("g%d", i), Op: Add})
		}
		return cs
	}
	names := func(lo, hi int) string {
		var s []string
		for i := lo; i < hi; i++ {
			s = append(s, fmt.Sprintf("+target_groups[g%d]", i))
		}
		return strings.Join(s, " ")
	}
	for _, tt := range []struct {
		name string
		in   []ResourceChange
		want string
	}{
		{"none", nil, "no changes"},
		{"one-of-each", []ResourceChange{
			{Kind: "target_groups", Name: "web", Op: Add},
			{Kind: "records", Name: "example.com./www.example.com./A/", Op: Change},
			{Kind: "zonal_shifts", Name: "edge/euw1-az2", Op: Remove},
		}, "+target_groups[web] ~records[example.com./www.example.com./A/] -zonal_shifts[edge/euw1-az2]"},
		{"12-shown-in-full", changes(12), names(0, 12)},
		{"13-cut-after-12", changes(13), names(0, 12) + " and 1 more"},
		{"20-cut-after-12", changes(20), names(0, 12) + " and 8 more"},
	} {
		if got := Summary(tt.in); got != tt.want {
			t.Errorf("Summary(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// baseState is the state of base().
func baseState() *State { return &base().State }

// mutState returns a constructor of base's state changed by f.
func mutState(f func(s *State)) func() *State {
	return func() *State {
		s := baseState()
		f(s)
		return s
	}
}
