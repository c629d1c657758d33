package model

import "testing"

// TestDiffCarriesValues: each change carries the resource before and after,
// records as plain record sets.
func TestDiffCarriesValues(t *testing.T) {
	old, new := baseState(), baseState()
	new.TargetGroups[0].Port++
	new.HostedZones[0].Records = new.HostedZones[0].Records[1:]
	changes := Diff(old, new)
	if len(changes) != 2 {
		t.Fatalf("Diff = %v, want a removed record and a changed group", changes)
	}
	if r, ok := changes[0].Old.(RecordSet); !ok || changes[0].Op != Remove || changes[0].New != nil || r.Name != old.HostedZones[0].Records[0].Name {
		t.Errorf("removal = %+v, want Old the removed RecordSet and New nil", changes[0])
	}
	o, ok1 := changes[1].Old.(TargetGroup)
	n, ok2 := changes[1].New.(TargetGroup)
	if !ok1 || !ok2 || n.Port != o.Port+1 {
		t.Errorf("change = %+v, want Old and New target groups one port apart", changes[1])
	}
}
