package route53_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// signedRequest returns a request signed by the SDK's own SigV4 signer at
// signedAt, for region and service; mutate runs after signing.
func signedRequest(t *testing.T, base, method, path, body string, signedAt time.Time, region, service string, mutate func(*http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, signedAt); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(req)
	}
	return req
}

func TestSignatureV4(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h, err := route53.New(route53.Config{Store: st, Views: view.NewPublisher(), Keys: map[string]string{testKeyID: testSecret}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const zoneBody = `<CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Name>sig.test</Name><CallerReference>sig-1</CallerReference></CreateHostedZoneRequest>`
	for _, tt := range []struct {
		name         string
		method, path string
		body         string
		at           time.Time
		region, svc  string
		mutate       func(*http.Request)
		status       int
		code         string
	}{
		{name: "create", method: "POST", path: "/2013-04-01/hostedzone", body: zoneBody, at: now, status: 201},
		{name: "query-escaping", method: "GET", path: "/2013-04-01/hostedzonesbyname?dnsname=" + url.QueryEscape("a b+c/ü.test") + "&maxitems=5", at: now, status: 200},
		{name: "id-with-escaped-prefix", method: "GET", path: "/2013-04-01/hostedzone/%2Fhostedzone%2F" + route53.ZoneID("sig.test"), at: now, status: 200},
		{name: "bare-id", method: "GET", path: "/2013-04-01/hostedzone/" + route53.ZoneID("sig.test"), at: now, status: 200},
		{name: "skew-past", method: "GET", path: "/2013-04-01/hostedzone", at: now.Add(-16 * time.Minute), status: 403, code: "SignatureDoesNotMatch"},
		{name: "skew-future", method: "GET", path: "/2013-04-01/hostedzone", at: now.Add(16 * time.Minute), status: 403, code: "SignatureDoesNotMatch"},
		{name: "skew-within", method: "GET", path: "/2013-04-01/hostedzone", at: now.Add(-14 * time.Minute), status: 200},
		{name: "other-region", method: "GET", path: "/2013-04-01/hostedzone", at: now, region: "eu-west-1", status: 403, code: "SignatureDoesNotMatch"},
		{name: "other-service", method: "GET", path: "/2013-04-01/hostedzone", at: now, svc: "s3", status: 403, code: "SignatureDoesNotMatch"},
		{name: "body-changed", method: "POST", path: "/2013-04-01/hostedzone", body: zoneBody, at: now, status: 403, code: "SignatureDoesNotMatch",
			mutate: func(r *http.Request) {
				b := strings.Replace(zoneBody, "sig.test", "evil.test", 1)
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
			}},
		{name: "query-changed", method: "GET", path: "/2013-04-01/hostedzone?maxitems=1", at: now, status: 403, code: "SignatureDoesNotMatch",
			mutate: func(r *http.Request) { r.URL.RawQuery = "maxitems=2" }},
		{name: "path-changed", method: "GET", path: "/2013-04-01/hostedzone", at: now, status: 403, code: "SignatureDoesNotMatch",
			mutate: func(r *http.Request) { r.URL.Path = "/2013-04-01/healthcheck" }},
		{name: "no-date", method: "GET", path: "/2013-04-01/hostedzone", at: now, status: 403, code: "IncompleteSignature",
			mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") }},
		{name: "garbage-header", method: "GET", path: "/2013-04-01/hostedzone", at: now, status: 403, code: "IncompleteSignature",
			mutate: func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 nonsense") }},
		{name: "unknown-operation", method: "GET", path: "/2013-04-01/trafficpolicies", at: now, status: 404, code: "UnknownOperationException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			region, svc := "us-east-1", "route53"
			if tt.region != "" {
				region = tt.region
			}
			if tt.svc != "" {
				svc = tt.svc
			}
			req := signedRequest(t, srv.URL, tt.method, tt.path, tt.body, tt.at, region, svc, tt.mutate)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.status)
			}
			if tt.code != "" && !bytes.Contains(body, []byte("<Code>"+tt.code+"</Code>")) {
				t.Errorf("%s %s = %s, want code %s", tt.method, tt.path, body, tt.code)
			}
		})
	}
}
