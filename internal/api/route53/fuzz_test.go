package route53_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard/switchboard/internal/api/route53"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// FuzzRequests sends signed requests with arbitrary bodies to the
// operations that read one: the handler must answer every one with a
// Route 53 XML document and a 2xx or 4xx status, never panic or fail inside.
func FuzzRequests(f *testing.F) {
	st, err := store.Open(filepath.Join(f.TempDir(), "state.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	h, err := route53.New(route53.Config{Store: st, Views: view.NewPublisher(), Keys: map[string]string{testKeyID: testSecret}})
	if err != nil {
		f.Fatal(err)
	}
	zone := route53.ZoneID("fuzz.test")
	paths := []string{"/2013-04-01/hostedzone", "/2013-04-01/hostedzone/" + zone + "/rrset/", "/2013-04-01/healthcheck", "/2013-04-01/healthcheck/x"}
	do := func(t testing.TB, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "http://route53.test"+path, strings.NewReader(body))
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "route53", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := do(f, paths[0], `<CreateHostedZoneRequest><Name>fuzz.test</Name><CallerReference>f</CallerReference></CreateHostedZoneRequest>`); w.Code != http.StatusCreated {
		f.Fatalf("CreateHostedZone = %d %s", w.Code, w.Body)
	}
	f.Add(uint8(1), `<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>a.fuzz.test</Name><Type>A</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`)
	f.Add(uint8(1), `<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>DELETE</Action><ResourceRecordSet><Name>\052.fuzz.test</Name><Type>CNAME</Type><AliasTarget><DNSName>x</DNSName></AliasTarget><GeoProximityLocation><Coordinates><Latitude>x</Latitude></Coordinates></GeoProximityLocation></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`)
	f.Add(uint8(2), `<CreateHealthCheckRequest><CallerReference>r</CallerReference><HealthCheckConfig><Type>HTTP</Type><IPAddress>192.0.2.1</IPAddress><RequestInterval>-5</RequestInterval></HealthCheckConfig></CreateHealthCheckRequest>`)
	f.Add(uint8(3), `<UpdateHealthCheckRequest><ResetElements><ResettableElementName>Regions</ResettableElementName></ResetElements></UpdateHealthCheckRequest>`)
	f.Add(uint8(0), `<CreateHostedZoneRequest><Name>..</Name><CallerReference>x</CallerReference></CreateHostedZoneRequest>`)
	f.Add(uint8(1), `<<>`)
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		w := do(t, paths[int(op)%len(paths)], body)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		var doc struct{ XMLName xml.Name }
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("response to %q is not XML: %v: %s", body, err, w.Body)
		}
		if w.Code >= 400 && doc.XMLName.Local != "ErrorResponse" {
			t.Fatalf("error %d is a %s, want an ErrorResponse", w.Code, doc.XMLName.Local)
		}
	})
}
