package server

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/miekg/dns"
)

// freePort returns a loopback port that was free a moment ago: the admin
// listener's address comes from the file, which cannot say "any port" and
// then tell the test which one it got.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		// DNS binds the port on both UDP and TCP: find one free on both.
		for range 100 {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := c.LocalAddr().(*net.UDPAddr).Port
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			c.Close()
			if err == nil {
				l.Close()
				return port
			}
		}
		t.Fatal("no port free on both UDP and TCP")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The Route 53 API is mounted on the admin listener with the keys of the
// file (a secret from the environment), and what it commits reaches DNS.
func TestRoute53OnAdminListener(t *testing.T) {
	const id, secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	t.Setenv("TEST_R53_SECRET", secret)
	adminPort, dnsPort := freePort(t, "tcp"), freePort(t, "udp")
	conf := fmt.Sprintf(`server:
  admin: { listen: "127.0.0.1:%d" }
  dns: { listen: ["127.0.0.1:%d"] }
  shutdown_timeout: 2s
  route53:
    access_keys:
      - { id: %s, secret_env: TEST_R53_SECRET }
      - { id: AKIAUNSETSECRET00000, secret_env: TEST_R53_UNSET_SECRET }
`, adminPort, dnsPort, id)
	runServer(t, conf, nil)
	ctx := t.Context()
	client := func(id, secret string) *r53.Client {
		return r53.New(r53.Options{
			BaseEndpoint: aws.String(fmt.Sprintf("http://127.0.0.1:%d", adminPort)), Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""), RetryMaxAttempts: 1,
		})
	}
	c := client(id, secret)
	var zone *r53.CreateHostedZoneOutput
	var err error
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond) // polls real sockets, which no fake clock drives
	defer tick.Stop()
	for { // until the admin listener is up
		zone, err = c.CreateHostedZone(ctx, &r53.CreateHostedZoneInput{Name: aws.String("srv.test"), CallerReference: aws.String("srv-1")})
		var ae smithy.APIError
		if err == nil || errors.As(err, &ae) || time.Now().After(deadline) {
			break
		}
		<-tick.C
	}
	if err != nil {
		t.Fatalf("CreateHostedZone: %v", err)
	}
	if _, err := c.ChangeResourceRecordSets(ctx, &r53.ChangeResourceRecordSetsInput{
		HostedZoneId: zone.HostedZone.Id,
		ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String("www.srv.test"), Type: types.RRTypeA, TTL: aws.Int64(60), ResourceRecords: []types.ResourceRecord{{Value: aws.String("192.0.2.44")}},
		}}}},
	}); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	m := new(dns.Msg)
	m.SetQuestion("www.srv.test.", dns.TypeA)
	var answer []dns.RR
	for time.Now().Before(deadline) {
		r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, fmt.Sprintf("127.0.0.1:%d", dnsPort))
		if err == nil && len(r.Answer) == 1 {
			answer = r.Answer
			break
		}
		<-tick.C
	}
	if len(answer) != 1 || answer[0].(*dns.A).A.String() != "192.0.2.44" {
		t.Errorf("DNS www.srv.test A = %v, want 192.0.2.44", answer)
	}
	_, err = client("AKIAUNSETSECRET00000", "anything-at-all-really").ListHostedZones(ctx, &r53.ListHostedZonesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Errorf("a key whose secret_env is unset = %v, want InvalidClientTokenId", err)
	}
}
