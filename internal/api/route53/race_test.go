package route53_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/switchboard/switchboard/internal/api/route53"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// racingStore is a real store that lets another source (as the file
// would) commit just before the API's first commit, so that commit loses
// the version race.
type racingStore struct {
	store.Store
	once sync.Once
	err  error
}

func (s *racingStore) Commit(ctx context.Context, b store.Batch) (*store.Snapshot, error) {
	s.once.Do(func() {
		head, err := s.Store.Head(ctx)
		if err != nil {
			s.err = err
			return
		}
		head.State.Zones = append(head.State.Zones, model.Zone{Name: "from-file"})
		v := head.Version
		_, s.err = s.Store.Commit(ctx, store.Batch{State: head.State, IfVersion: &v, Source: "file"})
	})
	return s.Store.Commit(ctx, b)
}

// A commit that loses a version race is rebuilt on the new head: both
// changes survive.
func TestVersionRaceRetries(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs := &racingStore{Store: st}
	h, err := route53.New(route53.Config{Store: rs, Views: view.NewPublisher(), Keys: map[string]string{testKeyID: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{st: st, api: newAPIServer(t, h)}
	s.client = s.newClient(testKeyID, testSecret)
	if _, err := s.client.CreateHostedZone(context.Background(), &r53.CreateHostedZoneInput{Name: aws.String("race.test"), CallerReference: aws.String("r")}); err != nil {
		t.Fatalf("CreateHostedZone across a version race: %v", err)
	}
	if rs.err != nil {
		t.Fatalf("the racing commit: %v", rs.err)
	}
	head, _ := st.Head(context.Background())
	if head.Version != 2 || len(head.State.Zones) != 1 || len(head.State.HostedZones) != 1 {
		t.Errorf("head = version %d with zones %v and hosted zones %v; want version 2 with both changes", head.Version, head.State.Zones, head.State.HostedZones)
	}
}
