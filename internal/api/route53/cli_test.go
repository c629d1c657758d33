package route53_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// awsCLI runs `aws route53 ARGS --endpoint-url …` with the test key and
// returns its standard output, or its error with standard error.
func awsCLI(t *testing.T, s *stack, secret string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append(append([]string{"route53"}, args...), "--endpoint-url", s.api.URL, "--output", "json")...)
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + testKeyID, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
	}
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), &cliError{ee, string(ee.Stderr)}
	}
	return string(out), err
}

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + e.stderr }

// The real aws CLI (botocore) against the API: it strips the id prefixes,
// signs with SigV4 and parses Route 53's XML, errors included.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("each aws command starts a Python interpreter; skipped in -short")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the aws CLI is not installed (apt-get install awscli)")
	}
	s := newStack(t)
	out, err := awsCLI(t, s, testSecret, "create-hosted-zone", "--name", "cli.test", "--caller-reference", "cli-1")
	if err != nil {
		t.Fatalf("create-hosted-zone: %v", err)
	}
	var zone struct{ HostedZone struct{ Id, Name string } }
	if err := json.Unmarshal([]byte(out), &zone); err != nil || zone.HostedZone.Name != "cli.test." {
		t.Fatalf("create-hosted-zone = %s (%v)", out, err)
	}
	batch := `{"Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"www.cli.test","Type":"A","TTL":60,"ResourceRecords":[{"Value":"192.0.2.7"}]}}]}`
	out, err = awsCLI(t, s, testSecret, "change-resource-record-sets", "--hosted-zone-id", zone.HostedZone.Id, "--change-batch", batch)
	if err != nil {
		t.Fatalf("change-resource-record-sets: %v", err)
	}
	var ch struct{ ChangeInfo struct{ Id, Status string } }
	if err := json.Unmarshal([]byte(out), &ch); err != nil || !strings.HasPrefix(ch.ChangeInfo.Id, "/change/") {
		t.Fatalf("change-resource-record-sets = %s (%v)", out, err)
	}
	eventually(t, 10*time.Second, "INSYNC", func() bool {
		got, err := s.client.GetChange(context.Background(), &r53.GetChangeInput{Id: aws.String(ch.ChangeInfo.Id)})
		return err == nil && got.ChangeInfo.Status == types.ChangeStatusInsync
	})
	// The waiter's first poll sees INSYNC, so it returns at once.
	if _, err := awsCLI(t, s, testSecret, "wait", "resource-record-sets-changed", "--id", ch.ChangeInfo.Id); err != nil {
		t.Fatalf("wait resource-record-sets-changed: %v", err)
	}
	out, err = awsCLI(t, s, testSecret, "test-dns-answer", "--hosted-zone-id", zone.HostedZone.Id, "--record-name", "www.cli.test", "--record-type", "A")
	if err != nil || !strings.Contains(out, "192.0.2.7") {
		t.Errorf("test-dns-answer = %s, %v; want 192.0.2.7", out, err)
	}
	out, err = awsCLI(t, s, testSecret, "list-resource-record-sets", "--hosted-zone-id", zone.HostedZone.Id)
	if err != nil || !strings.Contains(out, `"www.cli.test."`) || !strings.Contains(out, `"SOA"`) {
		t.Errorf("list-resource-record-sets = %s, %v", out, err)
	}
	bad := `{"Changes":[{"Action":"DELETE","ResourceRecordSet":{"Name":"www.cli.test","Type":"A","TTL":60,"ResourceRecords":[{"Value":"192.0.2.8"}]}}]}`
	if _, err := awsCLI(t, s, testSecret, "change-resource-record-sets", "--hosted-zone-id", zone.HostedZone.Id, "--change-batch", bad); err == nil ||
		!strings.Contains(err.Error(), "InvalidChangeBatch") || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("DELETE with other values = %v, want InvalidChangeBatch … do not match", err)
	}
	if _, err := awsCLI(t, s, "wrong-secret-wrong-secret", "list-hosted-zones"); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("list-hosted-zones with a wrong secret = %v, want SignatureDoesNotMatch", err)
	}
	out, err = awsCLI(t, s, testSecret, "create-health-check", "--caller-reference", "cli-hc",
		"--health-check-config", "Type=TCP,IPAddress=192.0.2.1,Port=443,RequestInterval=10,FailureThreshold=2")
	if err != nil || !strings.Contains(out, `"Type": "TCP"`) {
		t.Errorf("create-health-check = %s, %v", out, err)
	}
}
