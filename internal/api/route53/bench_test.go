package route53_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard/switchboard/internal/api/route53"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// BenchmarkUpsert measures one signed ChangeResourceRecordSets UPSERT
// (verify, decode, validate the whole state, commit to bbolt) into a zone
// that already holds records records.
func BenchmarkUpsert(b *testing.B) {
	for _, records := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			st, err := store.Open(filepath.Join(b.TempDir(), "state.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			z := model.HostedZone{Name: "bench.test"}
			for i := range records {
				ttl := model.Duration(time.Minute)
				z.Records = append(z.Records, model.RecordSet{Name: fmt.Sprintf("r%d.bench.test", i), Type: "A", TTL: &ttl, Values: []string{"192.0.2.1"}})
			}
			s := &model.State{HostedZones: []model.HostedZone{z}}
			s.SetDefaults()
			if _, err := st.Commit(context.Background(), store.Batch{State: s}); err != nil {
				b.Fatal(err)
			}
			h, err := route53.New(route53.Config{Store: st, Views: view.NewPublisher(), Keys: map[string]string{testKeyID: testSecret}})
			if err != nil {
				b.Fatal(err)
			}
			path := "/2013-04-01/hostedzone/" + route53.ZoneID("bench.test") + "/rrset/"
			signer := v4.NewSigner()
			creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				body := fmt.Sprintf(`<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>r0.bench.test</Name><Type>A</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.%d</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`, i%250+1)
				req := httptest.NewRequest("POST", "http://route53.test"+path, strings.NewReader(body))
				sum := sha256.Sum256([]byte(body))
				if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "route53", "us-east-1", time.Now()); err != nil {
					b.Fatal(err)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("UPSERT = %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
