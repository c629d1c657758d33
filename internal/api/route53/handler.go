// Package route53 serves a Route 53-compatible API (REST-XML, API version
// 2013-04-01) over switchboard's desired state, so that the AWS SDKs, the
// aws CLI, Terraform and external-dns can manage hosted zones, record sets
// and health checks here as they would at AWS.
//
// The API is an adapter: every change becomes a new model.State that goes
// through the model's validation and one store commit (conditional on the
// version it was built from, retried on a race), exactly like the
// configuration file. A batch with one invalid change changes nothing.
//
// Names map to the model as follows:
//   - A hosted zone's id is derived from its name: "Z" followed by 20
//     base-32 characters of the SHA-256 of the canonical name. It is
//     stable across restarts and for zones from the file, and a zone deleted
//     and created again gets the same id. Two zones cannot share a name.
//   - A health check's id is its name. Checks created through the API get
//     a random UUID as their name; checks from the file keep theirs.
//   - A change id is "C" followed by the store version it committed; it is
//     INSYNC once the published view (and the DNS server's table, when
//     there is one) has that version.
//   - HealthCheckId, latency Region, GeoProximityLocation.AWSRegion and
//     CidrRoutingConfig.CollectionId name a health check, region and CIDR
//     collection of the model. AliasTarget.DNSName is a record of the same
//     hosted zone, or a load balancer's dns_name.
//   - The apex SOA and NS record sets are the hosted zone's soa and
//     name_servers: listed, but not changed through ChangeResourceRecordSets.
//
// Requests must be signed with AWS Signature Version 4 (service route53)
// by a configured access key; others get Route 53's 403 errors.
//
// Known differences from Route 53: the model keeps no version per health
// check, so HealthCheckVersion is always 1; the caller reference of a
// deleted health check may be used again; one zone per name; no private
// zones, delegation sets, traffic policies or CIDR collection operations;
// tags are not stored (listed empty, adding them is refused).
package route53

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// maxBody bounds a request body; Route 53 allows 32,000 characters of
// values and 1,000 records per batch, far below this.
const maxBody = 4 << 20

// commitAttempts bounds the retries of a commit that lost a version race.
const commitAttempts = 8

// Health is what the API reads of the health engine: every checker's
// latest observation of a check. *health.Engine implements it.
type Health interface {
	Detail(k state.Key) (health.Detail, bool)
}

// DNS is what the API asks the DNS server: an answer computed in-process
// (TestDNSAnswer), and whether it answers from the published view yet
// (GetChange). *dnsserver.Server implements it.
type DNS interface {
	Exchange(m *dns.Msg, src netip.Addr) (*dns.Msg, error)
	Sync(ctx context.Context) error
}

// Config is what a Handler needs.
type Config struct {
	// Store holds the desired state. Required.
	Store store.Store
	// Views is where the current view is published. Required.
	Views *view.Publisher
	// Health gives health check observations. Optional: without it
	// GetHealthCheckStatus returns no observations.
	Health Health
	// DNS is the DNS server. Optional: without it TestDNSAnswer is refused
	// and GetChange waits for the published view only.
	DNS DNS
	// Keys maps access key ids to their secrets. Empty: every request is refused.
	Keys map[string]string
	// Region is the signing region. Default model.DefaultRoute53Region.
	Region string
	// Logger receives structured logs. Default: discard.
	Logger *slog.Logger
	// Now returns the time; default time.Now.
	Now func() time.Time
}

// Handler serves the API under /2013-04-01/. It is safe for concurrent use.
type Handler struct {
	// Immutable after New.
	st     store.Store
	views  *view.Publisher
	health Health
	dns    DNS
	keys   map[string]string
	region string
	log    *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux

	// commitMu serializes this API's read-modify-write cycles, so that its
	// own requests never race each other; IfVersion still guards against
	// other sources (the file, the native API).
	commitMu sync.Mutex
}

var _ http.Handler = (*Handler)(nil)

// New checks cfg and returns a Handler. It does no I/O.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Views == nil {
		return nil, errors.New("route53: a store and a view publisher are required")
	}
	if cfg.Region == "" {
		cfg.Region = model.DefaultRoute53Region
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{
		st: cfg.Store, views: cfg.Views, health: cfg.Health, dns: cfg.DNS,
		keys: cfg.Keys, region: cfg.Region, log: cfg.Logger, now: cfg.Now,
		mux: http.NewServeMux(),
	}
	p := "/" + APIVersion
	h.route("POST "+p+"/hostedzone", h.createHostedZone)
	h.route("GET "+p+"/hostedzone", h.listHostedZones)
	h.route("GET "+p+"/hostedzonesbyname", h.listHostedZonesByName)
	h.route("GET "+p+"/hostedzone/{id}", h.getHostedZone)
	h.route("DELETE "+p+"/hostedzone/{id}", h.deleteHostedZone)
	h.route("POST "+p+"/hostedzone/{id}/rrset", h.changeRecordSets)
	h.route("POST "+p+"/hostedzone/{id}/rrset/{$}", h.changeRecordSets) // the SDKs add the slash
	h.route("GET "+p+"/hostedzone/{id}/rrset", h.listRecordSets)
	h.route("GET "+p+"/hostedzone/{id}/rrset/{$}", h.listRecordSets)
	h.route("GET "+p+"/change/{id}", h.getChange)
	h.route("POST "+p+"/healthcheck", h.createHealthCheck)
	h.route("GET "+p+"/healthcheck", h.listHealthChecks)
	h.route("GET "+p+"/healthcheck/{id}", h.getHealthCheck)
	h.route("POST "+p+"/healthcheck/{id}", h.updateHealthCheck)
	h.route("DELETE "+p+"/healthcheck/{id}", h.deleteHealthCheck)
	h.route("GET "+p+"/healthcheck/{id}/status", h.getHealthCheckStatus)
	h.route("GET "+p+"/healthcheck/{id}/lastfailurereason", h.getHealthCheckLastFailureReason)
	h.route("GET "+p+"/healthcheckcount", h.getHealthCheckCount)
	h.route("GET "+p+"/hostedzonecount", h.getHostedZoneCount)
	h.route("GET "+p+"/testdnsanswer", h.testDNSAnswer)
	h.route("GET "+p+"/tags/{type}/{id}", h.listTagsForResource)
	h.route("POST "+p+"/tags/{type}/{id}", h.changeTagsForResource)
	h.route("POST "+p+"/tags/{type}", h.listTagsForResources)
	return h, nil
}

// request is one API call: what an operation reads and how it answers.
type request struct {
	r    *http.Request
	w    http.ResponseWriter
	body []byte
	id   string // request id, echoed in errors and x-amzn-RequestId
	key  string // the access key id that signed it
}

// apiError is an error with Route 53's code and HTTP status; messages are
// an InvalidChangeBatch's problems, one each.
type apiError struct {
	status   int
	code     string
	msg      string
	messages []string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func invalidInput(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidInput", format, args...)
}

func invalidBatch(messages ...string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "InvalidChangeBatch", msg: strings.Join(messages, "; "), messages: messages}
}

// route registers op for pattern; op's error, if any, is written in
// Route 53's error shape.
func (h *Handler) route(pattern string, op func(*request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rq := r.Context().Value(requestKey{}).(*request)
		rq.r = r
		if err := op(rq); err != nil {
			h.writeError(rq, err)
		}
	})
}

type requestKey struct{}

// ServeHTTP authenticates the request and runs its operation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{r: r, w: w, id: newUUID()}
	w.Header().Set("x-amzn-RequestId", rq.id)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.writeError(rq, invalidInput("cannot read the request body: %v", err))
		return
	}
	rq.body = body
	if aerr := h.verify(r, body, h.now()); aerr != nil {
		h.log.Info("route53: request refused", "code", aerr.code, "remote", r.RemoteAddr, "path", r.URL.Path)
		h.writeError(rq, errorf(http.StatusForbidden, aerr.code, "%s", aerr.msg))
		return
	}
	rq.key = credentialKey(r.Header.Get("Authorization"))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.writeError(rq, errorf(http.StatusNotFound, "UnknownOperationException", "no Route 53 operation for %s %s", r.Method, r.URL.Path))
		return
	}
	h.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, rq)))
}

func credentialKey(auth string) string {
	_, cred, _ := strings.Cut(auth, "Credential=")
	k, _, _ := strings.Cut(cred, "/")
	return k
}

// decode reads the request body as XML into v.
func (rq *request) decode(v any) error {
	if err := xml.Unmarshal(rq.body, v); err != nil {
		return invalidInput("the request body is not valid XML for this operation: %v", err)
	}
	return nil
}

// reply writes v as the XML response with status.
func (rq *request) reply(status int, v any) error {
	out, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	rq.w.Header().Set("Content-Type", "text/xml")
	rq.w.WriteHeader(status)
	rq.w.Write([]byte(xml.Header))
	rq.w.Write(out)
	return nil
}

func (h *Handler) writeError(rq *request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		h.log.Error("route53: internal error", "path", rq.r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, "InternalFailure", "%v", err)
	}
	e := xmlErrorResponse{RequestID: rq.id}
	e.Error.Type = "Sender"
	if ae.status >= 500 {
		e.Error.Type = "Receiver"
	}
	e.Error.Code, e.Error.Message = ae.code, ae.msg
	if ae.messages != nil {
		// As Route 53: the message is the list in brackets, and the
		// Messages element (which the SDKs read) has each one.
		e.Error.Message = "[" + strings.Join(ae.messages, ", ") + "]"
		e.Error.Messages = ae.messages
	}
	rq.reply(ae.status, e)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// commit applies change to the head state and commits the result as one
// batch, conditional on the head it read; on a version race it starts over
// from the new head. change returns the one-line summary of what it did
// for the history (as model.Summary writes them), or an *apiError to
// refuse. The new state is validated as a whole; problems come back as
// errFn's error (InvalidChangeBatch for record changes, InvalidInput
// otherwise). The summary comes from change rather than model.Diff: a
// diff needs a second copy of the state and costs as much as the rest of
// the commit on large zones.
func (h *Handler) commit(ctx context.Context, rq *request, change func(s *model.State) (string, error), errFn func(msgs []string) *apiError) (*store.Snapshot, error) {
	h.commitMu.Lock()
	defer h.commitMu.Unlock()
	for range commitAttempts {
		head, err := h.st.Head(ctx)
		if err != nil {
			return nil, err
		}
		s := head.State
		summary, err := change(s)
		if err != nil {
			return nil, err
		}
		s.SetDefaults()
		if err := s.Validate(); err != nil {
			var msgs []string
			if list, ok := model.AsErrors(err); ok {
				for _, e := range list {
					msgs = append(msgs, e.Error())
				}
			} else {
				msgs = []string{err.Error()}
			}
			return nil, errFn(msgs)
		}
		v := head.Version
		snap, err := h.st.Commit(ctx, store.Batch{State: s, IfVersion: &v, Source: "route53", Author: rq.key, Summary: summary})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		h.log.Info("route53: change committed", "version", snap.Version, "summary", summary, "key", rq.key)
		return snap, nil
	}
	return nil, errorf(http.StatusBadRequest, "PriorRequestNotComplete", "the state kept changing under this request; retry")
}

func inputErrors(msgs []string) *apiError { return invalidInput("%s", strings.Join(msgs, "; ")) }
