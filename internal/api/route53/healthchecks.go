package route53

import (
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// Route 53 defaults of a health check.
const (
	defaultRequestInterval  = 30
	defaultFailureThreshold = 3
)

// toCheck converts a Route 53 health check configuration to the model's
// check (without name and caller reference). RequestInterval may be any
// whole number of seconds the model allows (1–300), not only Route 53's
// 10 or 30; Regions and MeasureLatency are accepted and not kept: every
// switchboard node is one checker.
func toCheck(in *xmlHealthCheckConfig) (model.HealthCheck, error) {
	var hc model.HealthCheck
	switch in.Type {
	case "HTTP", "HTTP_STR_MATCH":
		hc.Type = model.CheckHTTP
	case "HTTPS", "HTTPS_STR_MATCH":
		hc.Type = model.CheckHTTPS
	case "TCP":
		hc.Type = model.CheckTCP
	case "CALCULATED":
		hc.Type = model.CheckCalculated
	case "CLOUDWATCH_METRIC", "RECOVERY_CONTROL":
		return hc, invalidInput("health check type %s is not supported here; use a metric check in the configuration file", in.Type)
	default:
		return hc, invalidInput("Invalid health check type %q: HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH, TCP or CALCULATED", in.Type)
	}
	if in.Inverted != nil {
		hc.Inverted = *in.Inverted
	}
	if in.Disabled != nil {
		hc.Disabled = *in.Disabled
	}
	if hc.Type == model.CheckCalculated {
		if in.ChildHealthChecks != nil {
			hc.Children = slices.Clone(in.ChildHealthChecks.Items)
		}
		for i, c := range hc.Children {
			hc.Children[i] = bareID(c)
		}
		if in.HealthThreshold != nil {
			hc.HealthThreshold = *in.HealthThreshold
		}
		return hc, nil
	}
	strMatch := strings.HasSuffix(in.Type, "_STR_MATCH")
	switch {
	case strMatch && in.SearchString == "":
		return hc, invalidInput("SearchString is required for %s", in.Type)
	case !strMatch && in.SearchString != "":
		return hc, invalidInput("SearchString is only for HTTP_STR_MATCH and HTTPS_STR_MATCH")
	case in.IPAddress == "" && in.FullyQualifiedDomainName == "":
		return hc, invalidInput("IPAddress or FullyQualifiedDomainName is required for %s", in.Type)
	case hc.Type == model.CheckTCP && in.Port == nil:
		return hc, invalidInput("Port is required for TCP health checks")
	}
	hc.SearchString = in.SearchString
	hc.Address = in.IPAddress
	fqdn := strings.TrimSuffix(in.FullyQualifiedDomainName, ".")
	if hc.Address == "" {
		hc.Address = fqdn
	}
	if in.Port != nil {
		hc.Port = *in.Port
	}
	if hc.Type != model.CheckTCP {
		hc.Path = in.ResourcePath
		if hc.Path != "" && !strings.HasPrefix(hc.Path, "/") {
			hc.Path = "/" + hc.Path
		}
		if in.IPAddress != "" && fqdn != "" {
			hc.Host = fqdn
			if hc.Port != 0 && hc.Port != 80 && hc.Port != 443 {
				hc.Host += ":" + strconv.Itoa(hc.Port)
			}
		}
		if hc.Type == model.CheckHTTPS && fqdn != "" && (in.EnableSNI == nil || *in.EnableSNI) {
			hc.SNI = fqdn
		}
	}
	interval := defaultRequestInterval
	if in.RequestInterval != nil {
		interval = *in.RequestInterval
	}
	hc.Interval = model.Duration(time.Duration(interval) * time.Second)
	threshold := defaultFailureThreshold
	if in.FailureThreshold != nil {
		threshold = *in.FailureThreshold
	}
	hc.HealthyThreshold, hc.UnhealthyThreshold = threshold, threshold
	return hc, nil
}

// fromCheck renders a model check as Route 53's configuration.
func fromCheck(hc *model.HealthCheck) xmlHealthCheckConfig {
	out := xmlHealthCheckConfig{}
	bp := func(b bool) *bool { return &b }
	ip := func(n int) *int { return &n }
	out.Inverted, out.Disabled = bp(hc.Inverted), bp(hc.Disabled)
	switch hc.Type {
	case model.CheckCalculated:
		out.Type = "CALCULATED"
		if len(hc.Children) > 0 {
			out.ChildHealthChecks = &xmlChildren{Items: hc.Children}
		}
		out.HealthThreshold = ip(hc.HealthThreshold)
		return out
	case model.CheckHTTP, model.CheckHTTPS:
		out.Type = strings.ToUpper(string(hc.Type))
		if hc.SearchString != "" {
			out.Type += "_STR_MATCH"
			out.SearchString = hc.SearchString
		}
		out.ResourcePath = hc.Path
		out.EnableSNI = bp(hc.SNI != "")
	case model.CheckTCP:
		out.Type = "TCP"
	default: // grpc and metric checks have no Route 53 type; named as they are
		out.Type = strings.ToUpper(string(hc.Type))
	}
	if _, err := netip.ParseAddr(hc.Address); err == nil {
		out.IPAddress = hc.Address
		if hc.Host != "" {
			host, _, _ := strings.Cut(hc.Host, ":")
			out.FullyQualifiedDomainName = host
		}
	} else {
		out.FullyQualifiedDomainName = hc.Address
	}
	if hc.Port != 0 {
		out.Port = ip(hc.Port)
	}
	out.RequestInterval = ip(int(hc.Interval.D() / time.Second))
	out.FailureThreshold = ip(hc.UnhealthyThreshold)
	return out
}

func checkXML(hc *model.HealthCheck) xmlHealthCheck {
	// The model keeps no version per check; every check is at version 1.
	return xmlHealthCheck{ID: hc.Name, CallerReference: hc.CallerReference, HealthCheckConfig: fromCheck(hc), HealthCheckVersion: 1}
}

func noSuchCheck(id string) *apiError {
	return errorf(http.StatusNotFound, "NoSuchHealthCheck", "No health check exists with the specified ID %s.", id)
}

func findCheck(s *model.State, id string) int {
	return slices.IndexFunc(s.HealthChecks, func(hc model.HealthCheck) bool { return hc.Name == id })
}

// withDefaults returns hc as the store would keep it.
func withDefaults(hc model.HealthCheck) model.HealthCheck {
	s := model.State{HealthChecks: []model.HealthCheck{hc}}
	s.SetDefaults()
	return s.HealthChecks[0]
}

func (h *Handler) createHealthCheck(rq *request) error {
	var in createHealthCheckRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	if in.CallerReference == "" || len(in.CallerReference) > 64 {
		return invalidInput("CallerReference must be 1–64 characters")
	}
	want, err := toCheck(&in.HealthCheckConfig)
	if err != nil {
		return err
	}
	want.CallerReference = in.CallerReference
	var result model.HealthCheck
	_, err = h.commit(rq.r.Context(), rq, func(s *model.State) (string, error) {
		for _, hc := range s.HealthChecks {
			if hc.CallerReference != in.CallerReference {
				continue
			}
			same := want
			same.Name = hc.Name
			if !reflect.DeepEqual(withDefaults(same), hc) {
				return "", errorf(http.StatusConflict, "HealthCheckAlreadyExists",
					"A health check with caller reference %q already exists (%s) with a different configuration.", in.CallerReference, hc.Name)
			}
			result = hc
			return "", errSame
		}
		result = want
		result.Name = newUUID()
		s.HealthChecks = append(s.HealthChecks, result)
		return "+health_checks[" + result.Name + "]", nil
	}, inputErrors)
	if err != nil && err != errSame {
		return err
	}
	result = withDefaults(result)
	rq.w.Header().Set("Location", "/"+APIVersion+"/healthcheck/"+result.Name)
	return rq.reply(http.StatusCreated, createHealthCheckResponse{HealthCheck: checkXML(&result)})
}

// errSame stops a commit that has nothing to change.
var errSame = &apiError{code: "same"}

func (h *Handler) getHealthCheck(rq *request) error {
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	id := bareID(rq.r.PathValue("id"))
	i := findCheck(head.State, id)
	if i < 0 {
		return noSuchCheck(id)
	}
	return rq.reply(http.StatusOK, getHealthCheckResponse{HealthCheck: checkXML(&head.State.HealthChecks[i])})
}

func (h *Handler) listHealthChecks(rq *request) error {
	n, err := maxItems(rq, 1000)
	if err != nil {
		return err
	}
	if rq.r.URL.Query().Get("maxitems") == "" {
		n = 100
	}
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	checks := slices.Clone(head.State.HealthChecks)
	slices.SortFunc(checks, func(a, b model.HealthCheck) int { return strings.Compare(a.Name, b.Name) })
	marker := rq.r.URL.Query().Get("marker")
	out := listHealthChecksResponse{Marker: marker, MaxItems: strconv.Itoa(n), HealthChecks: []xmlHealthCheck{}}
	for i := range checks {
		if marker != "" && checks[i].Name < marker {
			continue
		}
		if len(out.HealthChecks) == n {
			out.IsTruncated, out.NextMarker = true, checks[i].Name
			break
		}
		out.HealthChecks = append(out.HealthChecks, checkXML(&checks[i]))
	}
	return rq.reply(http.StatusOK, out)
}

func (h *Handler) updateHealthCheck(rq *request) error {
	var in updateHealthCheckRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	id := bareID(rq.r.PathValue("id"))
	if in.HealthCheckVersion != nil && *in.HealthCheckVersion != 1 {
		return errorf(http.StatusConflict, "HealthCheckVersionMismatch", "The value of HealthCheckVersion in the request (%d) does not match the current version 1.", *in.HealthCheckVersion)
	}
	var result model.HealthCheck
	_, err := h.commit(rq.r.Context(), rq, func(s *model.State) (string, error) {
		i := findCheck(s, id)
		if i < 0 {
			return "", noSuchCheck(id)
		}
		old := s.HealthChecks[i]
		cfg := fromCheck(&old)
		for _, e := range in.ResetElements {
			switch e {
			case "FullyQualifiedDomainName":
				if cfg.IPAddress != "" {
					cfg.FullyQualifiedDomainName = ""
				}
			case "ResourcePath":
				cfg.ResourcePath = ""
			case "ChildHealthChecks":
				cfg.ChildHealthChecks = nil
			case "Regions":
			default:
				return "", invalidInput("ResetElements: %q cannot be reset", e)
			}
		}
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&cfg.IPAddress, in.IPAddress)
		set(&cfg.ResourcePath, in.ResourcePath)
		set(&cfg.FullyQualifiedDomainName, in.FullyQualifiedDomainName)
		set(&cfg.SearchString, in.SearchString)
		if in.Port != nil {
			cfg.Port = in.Port
		}
		if in.FailureThreshold != nil {
			cfg.FailureThreshold = in.FailureThreshold
		}
		if in.Inverted != nil {
			cfg.Inverted = in.Inverted
		}
		if in.Disabled != nil {
			cfg.Disabled = in.Disabled
		}
		if in.HealthThreshold != nil {
			cfg.HealthThreshold = in.HealthThreshold
		}
		if in.ChildHealthChecks != nil {
			cfg.ChildHealthChecks = &xmlChildren{Items: in.ChildHealthChecks.Items}
		}
		if in.EnableSNI != nil {
			cfg.EnableSNI = in.EnableSNI
		}
		hc, err := toCheck(&cfg)
		if err != nil {
			return "", err
		}
		hc.Name, hc.CallerReference = old.Name, old.CallerReference
		// Fields Route 53 has no element for stay as they were.
		hc.Method, hc.ExpectedStatus, hc.VerifyTLS, hc.KeepAlive = old.Method, old.ExpectedStatus, old.VerifyTLS, old.KeepAlive
		hc.InitialState, hc.HealthyCheckerPercent = old.InitialState, old.HealthyCheckerPercent
		if in.FailureThreshold == nil {
			hc.HealthyThreshold = old.HealthyThreshold
		}
		if old.Interval != 0 {
			hc.Interval, hc.Timeout, hc.ConnectTimeout = old.Interval, old.Timeout, old.ConnectTimeout
		}
		s.HealthChecks[i] = hc
		result = hc
		return "~health_checks[" + id + "]", nil
	}, inputErrors)
	if err != nil {
		return err
	}
	result = withDefaults(result)
	return rq.reply(http.StatusOK, updateHealthCheckResponse{HealthCheck: checkXML(&result)})
}

func (h *Handler) deleteHealthCheck(rq *request) error {
	id := bareID(rq.r.PathValue("id"))
	_, err := h.commit(rq.r.Context(), rq, func(s *model.State) (string, error) {
		i := findCheck(s, id)
		if i < 0 {
			return "", noSuchCheck(id)
		}
		for _, z := range s.HostedZones {
			for _, r := range z.Records {
				if r.HealthCheck == id {
					return "", errorf(http.StatusBadRequest, "HealthCheckInUse", "The health check %s is still referenced by record %s %s in hosted zone %s.", id, r.Name, r.Type, z.Name)
				}
			}
		}
		for _, hc := range s.HealthChecks {
			if slices.Contains(hc.Children, id) {
				return "", errorf(http.StatusBadRequest, "HealthCheckInUse", "The health check %s is a child of calculated health check %s.", id, hc.Name)
			}
		}
		s.HealthChecks = slices.Delete(s.HealthChecks, i, i+1)
		return "-health_checks[" + id + "]", nil
	}, inputErrors)
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, deleteHealthCheckResponse{})
}

// detail returns what the health engine knows of check id, refusing
// calculated checks (as Route 53, which observes only endpoints).
func (h *Handler) detail(rq *request, op string) (health.Detail, error) {
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return health.Detail{}, err
	}
	id := bareID(rq.r.PathValue("id"))
	i := findCheck(head.State, id)
	if i < 0 {
		return health.Detail{}, noSuchCheck(id)
	}
	if head.State.HealthChecks[i].Type == model.CheckCalculated {
		return health.Detail{}, invalidInput("%s is not available for calculated health checks, as Route 53", op)
	}
	if h.health == nil {
		return health.Detail{}, nil
	}
	d, _ := h.health.Detail(state.Key{Check: id})
	return d, nil
}

func observationXML(o health.Observation) xmlObservation {
	var x xmlObservation
	x.Region = o.Checker
	status := "Success"
	if !o.Healthy {
		status = "Failure"
	}
	if o.Reason != "" {
		status += ": " + o.Reason
	}
	x.StatusReport.Status = status
	x.StatusReport.CheckedTime = o.Time.UTC().Format(time.RFC3339)
	return x
}

// getHealthCheckStatus returns each checker's latest observation.
func (h *Handler) getHealthCheckStatus(rq *request) error {
	d, err := h.detail(rq, "GetHealthCheckStatus")
	if err != nil {
		return err
	}
	out := getHealthCheckStatusResponse{HealthCheckObservations: []xmlObservation{}}
	for _, o := range d.Checkers {
		if !o.Time.IsZero() { // a checker without a result yet has nothing to say
			out.HealthCheckObservations = append(out.HealthCheckObservations, observationXML(o))
		}
	}
	return rq.reply(http.StatusOK, out)
}

// getHealthCheckLastFailureReason returns each checker's latest failure
// among the observations the engine keeps.
func (h *Handler) getHealthCheckLastFailureReason(rq *request) error {
	d, err := h.detail(rq, "GetHealthCheckLastFailureReason")
	if err != nil {
		return err
	}
	out := getHealthCheckLastFailureReasonResponse{HealthCheckObservations: []xmlObservation{}}
	seen := map[string]bool{}
	for _, o := range slices.Backward(d.History) {
		if !o.Healthy && !seen[o.Checker] {
			seen[o.Checker] = true
			out.HealthCheckObservations = append(out.HealthCheckObservations, observationXML(o))
		}
	}
	return rq.reply(http.StatusOK, out)
}

func (h *Handler) getHealthCheckCount(rq *request) error {
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, getHealthCheckCountResponse{HealthCheckCount: len(head.State.HealthChecks)})
}
