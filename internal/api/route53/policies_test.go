package route53_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard/switchboard/internal/api/route53"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// Every routing-policy field goes in through ChangeResourceRecordSets and
// comes back the same from ListResourceRecordSets; regions and CIDR
// collections come from the file (the store's first version), as the API
// has no operations for them here.
func TestEveryPolicyRoundTrips(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	lat, lon := 50.11, 8.68
	base := &model.State{
		Regions: []model.Region{{Name: "eu-central-1", Latitude: &lat, Longitude: &lon}, {Name: "us-east-1"}},
		CIDRCollections: []model.CIDRCollection{{Name: "offices", Locations: []model.CIDRLocation{
			{Name: "berlin", CIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
		}}},
	}
	if _, err := s.st.Commit(ctx, store.Batch{State: base, Source: "file"}); err != nil {
		t.Fatal(err)
	}
	zone := createZone(t, s, "policy.test")
	hc, err := s.client.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String("p"),
		HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, IPAddress: aws.String("192.0.2.1"), Port: aws.Int32(443)}})
	if err != nil {
		t.Fatal(err)
	}
	check := hc.HealthCheck.Id
	rec := func(name, id, value string, f func(*types.ResourceRecordSet)) types.ResourceRecordSet {
		r := a(name, 60, value)
		if id != "" {
			r.SetIdentifier = aws.String(id)
		}
		f(&r)
		return r
	}
	want := []types.ResourceRecordSet{
		rec("cidr.policy.test.", "berlin", "192.0.2.30", func(r *types.ResourceRecordSet) {
			r.CidrRoutingConfig = &types.CidrRoutingConfig{CollectionId: aws.String("offices"), LocationName: aws.String("berlin")}
		}),
		rec("cidr.policy.test.", "rest", "192.0.2.31", func(r *types.ResourceRecordSet) {
			r.CidrRoutingConfig = &types.CidrRoutingConfig{CollectionId: aws.String("offices"), LocationName: aws.String("*")}
		}),
		rec("fo.policy.test.", "primary", "", func(r *types.ResourceRecordSet) {
			r.TTL, r.ResourceRecords, r.Failover = nil, nil, types.ResourceRecordSetFailoverPrimary
			r.AliasTarget = &types.AliasTarget{HostedZoneId: aws.String(route53.ZoneID("policy.test")), DNSName: aws.String("mv.policy.test."), EvaluateTargetHealth: true}
		}),
		rec("fo.policy.test.", "secondary", "192.0.2.41", func(r *types.ResourceRecordSet) { r.Failover = types.ResourceRecordSetFailoverSecondary }),
		rec("geo.policy.test.", "de", "192.0.2.10", func(r *types.ResourceRecordSet) {
			r.GeoLocation = &types.GeoLocation{CountryCode: aws.String("DE")}
		}),
		rec("geo.policy.test.", "default", "192.0.2.11", func(r *types.ResourceRecordSet) {
			r.GeoLocation = &types.GeoLocation{CountryCode: aws.String("*")}
		}),
		rec("geo.policy.test.", "eu", "192.0.2.12", func(r *types.ResourceRecordSet) {
			r.GeoLocation = &types.GeoLocation{ContinentCode: aws.String("EU")}
		}),
		rec("geo.policy.test.", "us-ca", "192.0.2.13", func(r *types.ResourceRecordSet) {
			r.GeoLocation = &types.GeoLocation{CountryCode: aws.String("US"), SubdivisionCode: aws.String("CA")}
		}),
		rec("gp.policy.test.", "coords", "192.0.2.21", func(r *types.ResourceRecordSet) {
			r.GeoProximityLocation = &types.GeoProximityLocation{Coordinates: &types.Coordinates{Latitude: aws.String("40.7"), Longitude: aws.String("-74")}, Bias: aws.Int32(-20)}
		}),
		rec("gp.policy.test.", "region", "192.0.2.20", func(r *types.ResourceRecordSet) {
			r.GeoProximityLocation = &types.GeoProximityLocation{AWSRegion: aws.String("eu-central-1"), Bias: aws.Int32(10)}
		}),
		rec("lat.policy.test.", "eu", "192.0.2.50", func(r *types.ResourceRecordSet) {
			r.Region = types.ResourceRecordSetRegion("eu-central-1")
			r.HealthCheckId = check
		}),
		rec("lat.policy.test.", "us", "192.0.2.51", func(r *types.ResourceRecordSet) { r.Region = types.ResourceRecordSetRegion("us-east-1") }),
		rec("mv.policy.test.", "one", "192.0.2.60", func(r *types.ResourceRecordSet) { r.MultiValueAnswer = aws.Bool(true); r.HealthCheckId = check }),
		rec("mv.policy.test.", "two", "192.0.2.61", func(r *types.ResourceRecordSet) { r.MultiValueAnswer = aws.Bool(true) }),
		rec("w.policy.test.", "a", "192.0.2.70", func(r *types.ResourceRecordSet) { r.Weight = aws.Int64(0) }),
		rec("w.policy.test.", "b", "192.0.2.71", func(r *types.ResourceRecordSet) { r.Weight = aws.Int64(255) }),
		rec(`\052.wild.policy.test.`, "", "192.0.2.80", func(r *types.ResourceRecordSet) {}),
	}
	var changes []types.Change
	for _, r := range want {
		changes = append(changes, change(types.ChangeActionCreate, r))
	}
	if _, err := changeRecords(s, zone, changes...); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	list, err := s.client.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	if err != nil {
		t.Fatal(err)
	}
	got := list.ResourceRecordSets[2:] // after the apex NS and SOA
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(types.ResourceRecordSet{}, types.ResourceRecord{}, types.AliasTarget{},
		types.GeoLocation{}, types.GeoProximityLocation{}, types.Coordinates{}, types.CidrRoutingConfig{})); diff != "" {
		t.Errorf("ListResourceRecordSets after creating every policy (-want +got):\n%s", diff)
	}

	// The DNS answer depends on the client subnet for CIDR routing.
	eventually(t, 10*time.Second, "the records to reach DNS", func() bool {
		v := s.pub.Load()
		head, _ := s.st.Head(ctx)
		return v != nil && v.Version == head.Version
	})
	for _, tt := range []struct {
		ecs  string
		want string
	}{
		{"198.51.100.7", "192.0.2.30"},
		{"203.0.113.7", "192.0.2.31"},
	} {
		ans, err := s.client.TestDNSAnswer(ctx, &r53.TestDNSAnswerInput{HostedZoneId: aws.String(zone), RecordName: aws.String("cidr.policy.test"),
			RecordType: types.RRTypeA, EDNS0ClientSubnetIP: aws.String(tt.ecs)})
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(ans.RecordData, []string{tt.want}) {
			t.Errorf("TestDNSAnswer(cidr, ECS %s) = %v, want [%s]", tt.ecs, ans.RecordData, tt.want)
		}
	}
	ans, err := s.client.TestDNSAnswer(ctx, &r53.TestDNSAnswerInput{HostedZoneId: aws.String(zone), RecordName: aws.String("nothere.policy.test"), RecordType: types.RRTypeA})
	if err != nil || aws.ToString(ans.ResponseCode) != "NXDOMAIN" {
		t.Errorf("TestDNSAnswer(nothere) = %v %v, want NXDOMAIN", ans, err)
	}
}

// GetChange says PENDING until a view with the change's version is published.
func TestChangePendingUntilPublished(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pub := view.NewPublisher()
	h, err := route53.New(route53.Config{Store: st, Views: pub, Keys: map[string]string{testKeyID: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{st: st, pub: pub}
	s.api = newAPIServer(t, h)
	s.client = s.newClient(testKeyID, testSecret)
	ctx := context.Background()
	out, err := s.client.CreateHostedZone(ctx, &r53.CreateHostedZoneInput{Name: aws.String("p.test"), CallerReference: aws.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	if out.ChangeInfo.Status != types.ChangeStatusPending {
		t.Errorf("CreateHostedZone change = %s before any view, want PENDING", out.ChangeInfo.Status)
	}
	status := func() types.ChangeStatus {
		got, err := s.client.GetChange(ctx, &r53.GetChangeInput{Id: out.ChangeInfo.Id})
		if err != nil {
			t.Fatal(err)
		}
		return got.ChangeInfo.Status
	}
	head, _ := st.Head(ctx)
	pub.Publish(view.Build(head.Version-1, &model.State{}, nil, time.Now()))
	if got := status(); got != types.ChangeStatusPending {
		t.Errorf("GetChange with an older view = %s, want PENDING", got)
	}
	pub.Publish(view.Build(head.Version, head.State, nil, time.Now()))
	if got := status(); got != types.ChangeStatusInsync {
		t.Errorf("GetChange with the change's view = %s, want INSYNC", got)
	}
	if _, err := s.client.GetChange(ctx, &r53.GetChangeInput{Id: aws.String("C000000000099")}); apiCode(err) != "NoSuchChange" {
		t.Errorf("GetChange of a future version = %v, want NoSuchChange", err)
	}
}
