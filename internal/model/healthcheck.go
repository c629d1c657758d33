package model

// HealthCheck is a named check of one endpoint, or of other checks
// (calculated), or of metrics (metric). Record sets refer to it by name.
type HealthCheck struct {
	// Name identifies the check: lowercase letters, digits, '-', '_' and '.', 1–63 chars.
	Name string `yaml:"name" json:"name"`
	// Probe says how to probe the endpoint (http, https, tcp and grpc checks).
	Probe `yaml:",inline"`
	// Address is the endpoint's IP address or host name (http, https, tcp, grpc).
	Address string `yaml:"address" json:"address,omitempty"`
	// Inverted reports healthy as unhealthy and the other way round.
	Inverted bool `yaml:"inverted" json:"inverted,omitempty"`
	// Disabled stops probing; a disabled check counts as healthy (as Route 53).
	Disabled bool `yaml:"disabled" json:"disabled,omitempty"`
	// InitialState is the state before the first result. Default healthy (as Route 53).
	InitialState HealthState `yaml:"initial_state" json:"initial_state,omitempty"`
	// Children are the names of the checks a calculated check counts; at most 256.
	Children []string `yaml:"children" json:"children,omitempty"`
	// HealthThreshold is how many children must be healthy for a calculated
	// check to be healthy; 0–256 (0: always healthy; more than the children: never).
	HealthThreshold int `yaml:"health_threshold" json:"health_threshold,omitempty"`
	// Expression is a metric check's condition, for example
	// `p99(target_response_seconds{target_group="web"}[1m]) > 0.25`; unhealthy while true.
	Expression string `yaml:"expression" json:"expression,omitempty"`
	// Prometheus evaluates a metric check's expression (then PromQL) on a
	// Prometheus server instead of this process's own metrics. Optional.
	Prometheus *PrometheusSource `yaml:"prometheus" json:"prometheus,omitempty"`
	// InsufficientData is a metric check's state while its expression has no
	// data: healthy (default, as Route 53 for a new check), unhealthy or last_known.
	InsufficientData InsufficientData `yaml:"insufficient_data" json:"insufficient_data,omitempty"`
	// CallerReference is the unique string a Route 53 API client gave when it
	// created the check (1–64 chars); a second create with the same reference
	// returns this check. Optional; empty for checks from a file.
	CallerReference string `yaml:"caller_reference" json:"caller_reference,omitempty"`
}

// PrometheusSource is a Prometheus server's HTTP query API.
type PrometheusSource struct {
	// URL of the server, such as http://127.0.0.1:9090.
	URL string `yaml:"url" json:"url"`
}

// Probe is how to probe an endpoint. Target groups use it for each target,
// with the target's address; named health checks add an address.
type Probe struct {
	// Type is http, https, tcp, grpc, calculated or metric (calculated and
	// metric only for named health checks). Default for target groups: http for
	// HTTP-speaking groups, tcp otherwise.
	Type CheckType `yaml:"type" json:"type,omitempty"`
	// Port to probe, 1–65535. Default: 80 for http, 443 for https; for target
	// groups, the target's own port.
	Port int `yaml:"port" json:"port,omitempty"`
	// Path of the HTTP request, starting with '/', up to 1024 chars; may carry a
	// query string. Default "/".
	Path string `yaml:"path" json:"path,omitempty"`
	// Host is the Host header to send. Default: the address.
	Host string `yaml:"host" json:"host,omitempty"`
	// Method of the HTTP request. Default GET.
	Method string `yaml:"method" json:"method,omitempty"`
	// ExpectedStatus lists the HTTP status codes that count as healthy, as codes
	// and ranges: "200", "200,202", "200-399". Default "200-399" (as Route 53).
	ExpectedStatus string `yaml:"expected_status" json:"expected_status,omitempty"`
	// SearchString must appear in the first 5,120 bytes of the body (after
	// gzip/deflate decoding), case-sensitive, up to 255 chars. Optional.
	SearchString string `yaml:"search_string" json:"search_string,omitempty"`
	// SNI is the TLS server name to send (https). Default: host, else none.
	SNI string `yaml:"sni" json:"sni,omitempty"`
	// VerifyTLS verifies the endpoint's certificate (https). Default false, as Route 53.
	VerifyTLS bool `yaml:"verify_tls" json:"verify_tls,omitempty"`
	// Service is the gRPC service name to ask about (grpc). Default "" (the server).
	Service string `yaml:"service" json:"service,omitempty"`
	// Interval between probes, 100ms–300s. Default 10s.
	Interval Duration `yaml:"interval" json:"interval,omitempty"`
	// Timeout of one probe; shorter than the interval. Default 5s, or half the
	// interval when that is shorter.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// ConnectTimeout bounds the TCP connect (and TLS handshake); at most the
	// timeout. Default: the timeout.
	ConnectTimeout Duration `yaml:"connect_timeout" json:"connect_timeout,omitempty"`
	// HealthyThreshold is how many consecutive successes make an unhealthy
	// endpoint healthy, 1–10. Default 3.
	HealthyThreshold int `yaml:"healthy_threshold" json:"healthy_threshold,omitempty"`
	// UnhealthyThreshold is how many consecutive failures make a healthy
	// endpoint unhealthy, 1–10. Default 3.
	UnhealthyThreshold int `yaml:"unhealthy_threshold" json:"unhealthy_threshold,omitempty"`
	// KeepAlive reuses the connection between HTTP probes. Default false:
	// each probe opens a new connection (as ELB), which also tests accept.
	KeepAlive bool `yaml:"keep_alive" json:"keep_alive,omitempty"`
	// HealthyCheckerPercent: the endpoint is healthy when more than this
	// percentage of checkers (vantage points) report it healthy; 0–99.
	// Default 18, as Route 53. One node is one checker.
	HealthyCheckerPercent *int `yaml:"healthy_checker_percent" json:"healthy_checker_percent,omitempty"`
}
