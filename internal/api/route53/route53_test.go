package route53_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

func createZone(t *testing.T, s *stack, name string) string {
	t.Helper()
	out, err := s.client.CreateHostedZone(context.Background(), &r53.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String("zone-" + name),
	})
	if err != nil {
		t.Fatalf("CreateHostedZone(%s): %v", name, err)
	}
	if id := aws.ToString(out.HostedZone.Id); !strings.HasPrefix(id, "/hostedzone/Z") {
		t.Fatalf("CreateHostedZone id = %q, want /hostedzone/Z…", id)
	}
	return aws.ToString(out.HostedZone.Id)
}

func change(action types.ChangeAction, rrs types.ResourceRecordSet) types.Change {
	return types.Change{Action: action, ResourceRecordSet: &rrs}
}

func a(name string, ttl int64, values ...string) types.ResourceRecordSet {
	rrs := types.ResourceRecordSet{Name: aws.String(name), Type: types.RRTypeA, TTL: aws.Int64(ttl)}
	for _, v := range values {
		rrs.ResourceRecords = append(rrs.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	return rrs
}

func changeRecords(s *stack, zone string, changes ...types.Change) (*r53.ChangeResourceRecordSetsOutput, error) {
	return s.client.ChangeResourceRecordSets(context.Background(), &r53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zone),
		ChangeBatch:  &types.ChangeBatch{Changes: changes},
	})
}

// The scenario: a hosted zone, a health check of a local backend,
// a PRIMARY/SECONDARY failover pair; DNS answers the primary until the
// backend dies, then the secondary; the health check's status shows the
// failure, and the change reaches INSYNC.
func TestFailoverThroughSDK(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	srv, port := backend(t)

	zone := createZone(t, s, "example.test")
	hc, err := s.client.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{
		CallerReference: aws.String("primary-check"),
		HealthCheckConfig: &types.HealthCheckConfig{
			Type: types.HealthCheckTypeHttp, IPAddress: aws.String("127.0.0.1"), Port: aws.Int32(int32(port)),
			ResourcePath: aws.String("/health"), RequestInterval: aws.Int32(1), FailureThreshold: aws.Int32(1),
		},
	})
	if err != nil {
		t.Fatalf("CreateHealthCheck: %v", err)
	}
	checkID := aws.ToString(hc.HealthCheck.Id)

	primary := a("www.example.test", 60, "192.0.2.1")
	primary.SetIdentifier, primary.Failover, primary.HealthCheckId = aws.String("primary"), types.ResourceRecordSetFailoverPrimary, aws.String(checkID)
	secondary := a("www.example.test", 60, "192.0.2.2")
	secondary.SetIdentifier, secondary.Failover = aws.String("secondary"), types.ResourceRecordSetFailoverSecondary
	out, err := changeRecords(s, zone, change(types.ChangeActionCreate, primary), change(types.ChangeActionCreate, secondary))
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	changeID := aws.ToString(out.ChangeInfo.Id)
	if !strings.HasPrefix(changeID, "/change/C") {
		t.Fatalf("change id = %q, want /change/C…", changeID)
	}
	hist, err := s.st.History(ctx, 0, 1)
	if err != nil || len(hist) != 1 || hist[0].Source != "route53" || hist[0].Author != testKeyID ||
		hist[0].Summary != "~hosted_zones[example.test.]: CREATE www.example.test. A (primary), CREATE www.example.test. A (secondary)" {
		t.Errorf("history of the batch = %+v, %v", hist, err)
	}
	eventually(t, 10*time.Second, "GetChange INSYNC", func() bool {
		// Without the /change/ prefix, as the CLI sends it.
		got, err := s.client.GetChange(ctx, &r53.GetChangeInput{Id: aws.String(strings.TrimPrefix(changeID, "/change/"))})
		if err != nil {
			t.Fatalf("GetChange: %v", err)
		}
		return got.ChangeInfo.Status == types.ChangeStatusInsync
	})
	if got := s.query(t, "www.example.test"); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Fatalf("DNS www.example.test A = %v, want the primary [192.0.2.1]", got)
	}
	eventually(t, 10*time.Second, "a successful observation", func() bool {
		st, err := s.client.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: aws.String(checkID)})
		if err != nil {
			t.Fatalf("GetHealthCheckStatus: %v", err)
		}
		return len(st.HealthCheckObservations) == 1 && strings.HasPrefix(aws.ToString(st.HealthCheckObservations[0].StatusReport.Status), "Success")
	})

	srv.Close() // the backend dies
	eventually(t, 15*time.Second, "the answer to become the secondary", func() bool {
		return slices.Equal(s.query(t, "www.example.test"), []string{"192.0.2.2"})
	})
	st, err := s.client.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: aws.String(checkID)})
	if err != nil {
		t.Fatalf("GetHealthCheckStatus: %v", err)
	}
	if len(st.HealthCheckObservations) != 1 {
		t.Fatalf("GetHealthCheckStatus has %d observations, want 1 (one per checker)", len(st.HealthCheckObservations))
	}
	if status := aws.ToString(st.HealthCheckObservations[0].StatusReport.Status); !strings.HasPrefix(status, "Failure") {
		t.Errorf("GetHealthCheckStatus status = %q, want a Failure", status)
	}
	lf, err := s.client.GetHealthCheckLastFailureReason(ctx, &r53.GetHealthCheckLastFailureReasonInput{HealthCheckId: aws.String(checkID)})
	if err != nil {
		t.Fatalf("GetHealthCheckLastFailureReason: %v", err)
	}
	if len(lf.HealthCheckObservations) != 1 || !strings.Contains(aws.ToString(lf.HealthCheckObservations[0].StatusReport.Status), "refused") {
		t.Errorf("GetHealthCheckLastFailureReason = %+v, want one failure naming the refused connection", lf.HealthCheckObservations)
	}
	ans, err := s.client.TestDNSAnswer(ctx, &r53.TestDNSAnswerInput{
		HostedZoneId: aws.String(zone), RecordName: aws.String("www.example.test"), RecordType: types.RRTypeA,
	})
	if err != nil {
		t.Fatalf("TestDNSAnswer: %v", err)
	}
	if diff := cmp.Diff([]string{"192.0.2.2"}, ans.RecordData); diff != "" || aws.ToString(ans.ResponseCode) != "NOERROR" {
		t.Errorf("TestDNSAnswer = %s %v, want NOERROR (-want +got):\n%s", aws.ToString(ans.ResponseCode), ans.RecordData, diff)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func listAll(t *testing.T, s *stack, zone string, page int32) []string {
	t.Helper()
	var out []string
	in := &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone), MaxItems: aws.Int32(page)}
	for range 100 {
		got, err := s.client.ListResourceRecordSets(context.Background(), in)
		if err != nil {
			t.Fatalf("ListResourceRecordSets: %v", err)
		}
		if len(got.ResourceRecordSets) > int(page) {
			t.Fatalf("ListResourceRecordSets returned %d records for MaxItems %d", len(got.ResourceRecordSets), page)
		}
		for _, r := range got.ResourceRecordSets {
			out = append(out, fmt.Sprintf("%s %s %s", aws.ToString(r.Name), r.Type, aws.ToString(r.SetIdentifier)))
		}
		if !got.IsTruncated {
			return out
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = got.NextRecordName, got.NextRecordType, got.NextRecordIdentifier
	}
	t.Fatal("ListResourceRecordSets never ended")
	return nil
}

func TestRecordSets(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	zone := createZone(t, s, "example.test")
	w := func(id string, weight int64, v string) types.ResourceRecordSet {
		r := a("w.example.test", 60, v)
		r.SetIdentifier, r.Weight = aws.String(id), aws.Int64(weight)
		return r
	}
	if _, err := changeRecords(s, zone,
		change(types.ChangeActionCreate, a("b.example.test", 60, "192.0.2.2")),
		change(types.ChangeActionCreate, a("a.b.example.test", 60, "192.0.2.3")),
		change(types.ChangeActionUpsert, a("z.example.test", 60, "192.0.2.4")),
		change(types.ChangeActionCreate, w("two", 20, "192.0.2.6")),
		change(types.ChangeActionCreate, w("one", 10, "192.0.2.5")),
		change(types.ChangeActionCreate, types.ResourceRecordSet{Name: aws.String("b.example.test"), Type: types.RRTypeTxt, TTL: aws.Int64(60),
			ResourceRecords: []types.ResourceRecord{{Value: aws.String(`"hello"`)}}}),
		change(types.ChangeActionCreate, types.ResourceRecordSet{Name: aws.String("alias.example.test"), Type: types.RRTypeA,
			AliasTarget: &types.AliasTarget{HostedZoneId: aws.String(zone), DNSName: aws.String("z.example.test"), EvaluateTargetHealth: true}}),
	); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}

	t.Run("order-and-pagination", func(t *testing.T) {
		// Route 53's order: by name with its labels reversed (test.example <
		// test.example.alias < test.example.b < test.example.b.a), then type,
		// then set identifier.
		want := []string{
			"example.test. NS ", "example.test. SOA ",
			"alias.example.test. A ",
			"b.example.test. A ", "b.example.test. TXT ",
			"a.b.example.test. A ",
			"w.example.test. A one", "w.example.test. A two",
			"z.example.test. A ",
		}
		for _, page := range []int32{300, 1, 2, 4} {
			if diff := cmp.Diff(want, listAll(t, s, zone, page)); diff != "" {
				t.Errorf("ListResourceRecordSets pages of %d (-want +got):\n%s", page, diff)
			}
		}
		got, err := s.client.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{
			HostedZoneId: aws.String(zone), StartRecordName: aws.String("w.example.test"), StartRecordType: types.RRTypeA,
			StartRecordIdentifier: aws.String("two"), MaxItems: aws.Int32(1),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.ResourceRecordSets) != 1 || aws.ToString(got.ResourceRecordSets[0].SetIdentifier) != "two" || !got.IsTruncated ||
			aws.ToString(got.NextRecordName) != "z.example.test." || got.NextRecordType != types.RRTypeA {
			t.Errorf("ListResourceRecordSets from w/A/two = %+v", got)
		}
	})

	t.Run("invalid-batch-changes-nothing", func(t *testing.T) {
		head, _ := s.st.Head(ctx)
		_, err := changeRecords(s, zone,
			change(types.ChangeActionCreate, a("new.example.test", 60, "192.0.2.9")),
			change(types.ChangeActionUpsert, a("b.example.test", 60, "192.0.2.10")),
			change(types.ChangeActionCreate, a("bad.example.test", 60, "not-an-address")),
		)
		var icb *types.InvalidChangeBatch
		if !errors.As(err, &icb) {
			t.Fatalf("ChangeResourceRecordSets with a bad value = %v, want InvalidChangeBatch", err)
		}
		if len(icb.Messages) == 0 || !strings.Contains(strings.Join(icb.Messages, "\n"), "not-an-address") {
			t.Errorf("InvalidChangeBatch messages = %q, want one naming the bad value", icb.Messages)
		}
		after, _ := s.st.Head(ctx)
		if after.Version != head.Version {
			t.Errorf("store version %d -> %d after a refused batch", head.Version, after.Version)
		}
		if got := listAll(t, s, zone, 300); slices.Contains(got, "new.example.test. A ") {
			t.Errorf("refused batch created new.example.test: %v", got)
		}
		_, err = changeRecords(s, zone, change(types.ChangeActionCreate, a("b.example.test", 60, "192.0.2.2")))
		if !errors.As(err, &icb) || !strings.Contains(icb.Messages[0], "already exists") {
			t.Errorf("CREATE of an existing record = %v, want InvalidChangeBatch ... already exists", err)
		}
	})

	t.Run("delete-must-match", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			rrs  types.ResourceRecordSet
		}{
			{"other-value", a("b.example.test", 60, "192.0.2.99")},
			{"other-ttl", a("b.example.test", 61, "192.0.2.2")},
			{"not-found", a("nothere.example.test", 60, "192.0.2.2")},
			{"other-weight", w("one", 11, "192.0.2.5")},
		} {
			_, err := changeRecords(s, zone, change(types.ChangeActionDelete, tt.rrs))
			var icb *types.InvalidChangeBatch
			if !errors.As(err, &icb) {
				t.Errorf("%s: DELETE = %v, want InvalidChangeBatch", tt.name, err)
			}
		}
		if got := listAll(t, s, zone, 300); !slices.Contains(got, "b.example.test. A ") {
			t.Errorf("a refused DELETE removed b.example.test: %v", got)
		}
		if _, err := changeRecords(s, zone, change(types.ChangeActionDelete, w("one", 10, "192.0.2.5"))); err != nil {
			t.Errorf("exact DELETE: %v", err)
		}
		if got := listAll(t, s, zone, 300); slices.Contains(got, "w.example.test. A one") {
			t.Errorf("exact DELETE left the record: %v", got)
		}
	})

	t.Run("unknown-references", func(t *testing.T) {
		r := w("three", 1, "192.0.2.7")
		r.HealthCheckId = aws.String("no-such-check")
		if _, err := changeRecords(s, zone, change(types.ChangeActionCreate, r)); apiCode(err) != "NoSuchHealthCheck" {
			t.Errorf("CREATE with an unknown HealthCheckId = %v, want NoSuchHealthCheck", err)
		}
		if _, err := changeRecords(s, "ZNOSUCHZONE", change(types.ChangeActionCreate, a("x.example.test", 60, "192.0.2.1"))); apiCode(err) != "NoSuchHostedZone" {
			t.Errorf("ChangeResourceRecordSets in an unknown zone = %v, want NoSuchHostedZone", err)
		}
		if _, err := s.client.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone), StartRecordType: types.RRTypeA}); apiCode(err) != "InvalidInput" {
			t.Errorf("ListResourceRecordSets with a type and no name = %v, want InvalidInput", err)
		}
	})

	t.Run("hosted-zone-not-empty", func(t *testing.T) {
		_, err := s.client.DeleteHostedZone(ctx, &r53.DeleteHostedZoneInput{Id: aws.String(zone)})
		if apiCode(err) != "HostedZoneNotEmpty" {
			t.Errorf("DeleteHostedZone of a zone with records = %v, want HostedZoneNotEmpty", err)
		}
	})
}

func TestHostedZones(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	b := createZone(t, s, "b.example")
	createZone(t, s, "a.example")
	createZone(t, s, "x.b.example")

	if _, err := s.client.CreateHostedZone(ctx, &r53.CreateHostedZoneInput{Name: aws.String("a.example"), CallerReference: aws.String("other")}); apiCode(err) != "HostedZoneAlreadyExists" {
		t.Errorf("CreateHostedZone of an existing name = %v, want HostedZoneAlreadyExists", err)
	}
	got, err := s.client.GetHostedZone(ctx, &r53.GetHostedZoneInput{Id: aws.String(strings.TrimPrefix(b, "/hostedzone/"))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.HostedZone.Name) != "b.example." || aws.ToString(got.HostedZone.Id) != b || aws.ToInt64(got.HostedZone.ResourceRecordSetCount) != 2 {
		t.Errorf("GetHostedZone = %+v", got.HostedZone)
	}
	byName, err := s.client.ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, z := range byName.HostedZones {
		names = append(names, aws.ToString(z.Name))
	}
	if diff := cmp.Diff([]string{"a.example.", "b.example.", "x.b.example."}, names); diff != "" {
		t.Errorf("ListHostedZonesByName (-want +got):\n%s", diff)
	}
	var all []string
	in := &r53.ListHostedZonesInput{MaxItems: aws.Int32(1)}
	for {
		page, err := s.client.ListHostedZones(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range page.HostedZones {
			all = append(all, aws.ToString(z.Name))
		}
		if !page.IsTruncated {
			break
		}
		in.Marker = page.NextMarker
	}
	if len(all) != 3 {
		t.Errorf("ListHostedZones pages of 1 = %v, want 3 zones", all)
	}
	if n, err := s.client.GetHostedZoneCount(ctx, &r53.GetHostedZoneCountInput{}); err != nil || aws.ToInt64(n.HostedZoneCount) != 3 {
		t.Errorf("GetHostedZoneCount = %v, %v; want 3", n, err)
	}
	if _, err := s.client.DeleteHostedZone(ctx, &r53.DeleteHostedZoneInput{Id: aws.String(b)}); err != nil {
		t.Fatalf("DeleteHostedZone: %v", err)
	}
	if _, err := s.client.GetHostedZone(ctx, &r53.GetHostedZoneInput{Id: aws.String(b)}); apiCode(err) != "NoSuchHostedZone" {
		t.Errorf("GetHostedZone after delete = %v, want NoSuchHostedZone", err)
	}
}

func TestHealthChecks(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	cfg := func(path string) *types.HealthCheckConfig {
		return &types.HealthCheckConfig{Type: types.HealthCheckTypeHttpStrMatch, IPAddress: aws.String("192.0.2.1"), Port: aws.Int32(8080),
			ResourcePath: aws.String(path), SearchString: aws.String("ok"), FullyQualifiedDomainName: aws.String("www.example.test")}
	}
	first, err := s.client.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String("ref-1"), HealthCheckConfig: cfg("/health")})
	if err != nil {
		t.Fatalf("CreateHealthCheck: %v", err)
	}
	id := aws.ToString(first.HealthCheck.Id)
	if len(id) != 36 {
		t.Errorf("health check id %q is not a UUID", id)
	}
	again, err := s.client.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String("ref-1"), HealthCheckConfig: cfg("/health")})
	if err != nil || aws.ToString(again.HealthCheck.Id) != id {
		t.Errorf("CreateHealthCheck again with the same reference and config = %v, %v; want the same check %s", again, err, id)
	}
	_, err = s.client.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String("ref-1"), HealthCheckConfig: cfg("/other")})
	var exists *types.HealthCheckAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("CreateHealthCheck with the reference of another config = %v, want HealthCheckAlreadyExists", err)
	}
	if n, err := s.client.GetHealthCheckCount(ctx, &r53.GetHealthCheckCountInput{}); err != nil || aws.ToInt64(n.HealthCheckCount) != 1 {
		t.Errorf("GetHealthCheckCount = %v, %v; want 1", n, err)
	}
	list, err := s.client.ListHealthChecks(ctx, &r53.ListHealthChecksInput{})
	if err != nil || len(list.HealthChecks) != 1 {
		t.Fatalf("ListHealthChecks = %v, %v; want one check", list, err)
	}
	got := list.HealthChecks[0].HealthCheckConfig
	if got.Type != types.HealthCheckTypeHttpStrMatch || aws.ToString(got.SearchString) != "ok" || aws.ToString(got.ResourcePath) != "/health" ||
		aws.ToInt32(got.Port) != 8080 || aws.ToString(got.FullyQualifiedDomainName) != "www.example.test" || aws.ToInt32(got.RequestInterval) != 30 || aws.ToInt32(got.FailureThreshold) != 3 {
		t.Errorf("ListHealthChecks config = %+v", got)
	}
	up, err := s.client.UpdateHealthCheck(ctx, &r53.UpdateHealthCheckInput{HealthCheckId: aws.String(id), ResourcePath: aws.String("/v2"), Inverted: aws.Bool(true)})
	if err != nil {
		t.Fatalf("UpdateHealthCheck: %v", err)
	}
	if c := up.HealthCheck.HealthCheckConfig; aws.ToString(c.ResourcePath) != "/v2" || !aws.ToBool(c.Inverted) || aws.ToString(c.SearchString) != "ok" {
		t.Errorf("UpdateHealthCheck config = %+v", c)
	}
	if _, err := s.client.GetHealthCheck(ctx, &r53.GetHealthCheckInput{HealthCheckId: aws.String("nope")}); apiCode(err) != "NoSuchHealthCheck" {
		t.Errorf("GetHealthCheck(nope) = %v, want NoSuchHealthCheck", err)
	}
	calc, err := s.client.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String("calc"),
		HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeCalculated, HealthThreshold: aws.Int32(1), ChildHealthChecks: []string{id}}})
	if err != nil {
		t.Fatalf("CreateHealthCheck CALCULATED: %v", err)
	}
	if _, err := s.client.DeleteHealthCheck(ctx, &r53.DeleteHealthCheckInput{HealthCheckId: aws.String(id)}); apiCode(err) != "HealthCheckInUse" {
		t.Errorf("DeleteHealthCheck of a child = %v, want HealthCheckInUse", err)
	}
	for _, del := range []string{aws.ToString(calc.HealthCheck.Id), id} {
		if _, err := s.client.DeleteHealthCheck(ctx, &r53.DeleteHealthCheckInput{HealthCheckId: aws.String(del)}); err != nil {
			t.Errorf("DeleteHealthCheck(%s): %v", del, err)
		}
	}
	if _, err := s.client.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String("tcp"),
		HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, IPAddress: aws.String("192.0.2.1")}}); apiCode(err) != "InvalidInput" {
		t.Errorf("CreateHealthCheck TCP without a port = %v, want InvalidInput", err)
	}
}

func TestSignature(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name, id, secret, code string
	}{
		{"wrong-secret", testKeyID, "not-the-secret-at-all", "SignatureDoesNotMatch"},
		{"unknown-key", "AKIAUNKNOWNKEY000000", testSecret, "InvalidClientTokenId"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.newClient(tt.id, tt.secret).ListHostedZones(ctx, &r53.ListHostedZonesInput{})
			if apiCode(err) != tt.code {
				t.Errorf("ListHostedZones signed by %s = %v, want %s", tt.name, err, tt.code)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusForbidden {
				t.Errorf("status = %d, want 403", re.HTTPStatusCode())
			}
		})
	}
	t.Run("unsigned", func(t *testing.T) {
		resp, err := http.Get(s.api.URL + "/2013-04-01/hostedzone")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<Code>MissingAuthenticationToken</Code>") ||
			!strings.Contains(string(body), "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">") {
			t.Errorf("unsigned request = %d %s, want 403 MissingAuthenticationToken in an ErrorResponse", resp.StatusCode, body)
		}
	})
	t.Run("signed", func(t *testing.T) {
		if _, err := s.client.ListHostedZones(ctx, &r53.ListHostedZonesInput{}); err != nil {
			t.Errorf("ListHostedZones signed with the right key: %v", err)
		}
	})
}

// Concurrent batches all land: each is one commit, none is lost to a
// version race.
func TestConcurrentChanges(t *testing.T) {
	s := newStack(t)
	zone := createZone(t, s, "race.test")
	const n = 12
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := changeRecords(s, zone, change(types.ChangeActionCreate, a(fmt.Sprintf("r%d.race.test", i), 60, "192.0.2.1")))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent ChangeResourceRecordSets: %v", err)
		}
	}
	if got := listAll(t, s, zone, 300); len(got) != n+2 {
		t.Errorf("after %d concurrent creates the zone lists %d record sets, want %d: %v", n, len(got), n+2, got)
	}
	head, _ := s.st.Head(context.Background())
	if head.Version != n+1 {
		t.Errorf("store version = %d, want %d (one zone, then one commit per batch)", head.Version, n+1)
	}
}

// Tags are listed empty for resources that exist; adding them is refused.
func TestTags(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	zone := createZone(t, s, "tags.test")
	bare := strings.TrimPrefix(zone, "/hostedzone/")
	got, err := s.client.ListTagsForResource(ctx, &r53.ListTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(bare)})
	if err != nil || aws.ToString(got.ResourceTagSet.ResourceId) != bare || len(got.ResourceTagSet.Tags) != 0 {
		t.Errorf("ListTagsForResource = %+v, %v; want an empty set for %s", got, err, bare)
	}
	many, err := s.client.ListTagsForResources(ctx, &r53.ListTagsForResourcesInput{ResourceType: types.TagResourceTypeHostedzone, ResourceIds: []string{bare}})
	if err != nil || len(many.ResourceTagSets) != 1 {
		t.Errorf("ListTagsForResources = %+v, %v; want one set", many, err)
	}
	if _, err := s.client.ListTagsForResource(ctx, &r53.ListTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String("ZNOPE")}); apiCode(err) != "NoSuchHostedZone" {
		t.Errorf("ListTagsForResource(ZNOPE) = %v, want NoSuchHostedZone", err)
	}
	if _, err := s.client.ChangeTagsForResource(ctx, &r53.ChangeTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(bare),
		AddTags: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}}); apiCode(err) != "InvalidInput" {
		t.Errorf("ChangeTagsForResource adding a tag = %v, want InvalidInput", err)
	}
}
