package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// Client talks to the API of a running server, for the command line.
type Client struct {
	// Server is the admin listener's base URL, such as http://127.0.0.1:9090.
	Server string
	// Token is the bearer token; empty sends none.
	Token string
	// HTTP is the client to use; default one with a 30s timeout.
	HTTP *http.Client
}

// NewClient returns a client for server (a URL, or host:port meaning http).
// insecure skips TLS certificate verification.
func NewClient(server, token string, insecure bool) *Client {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	c := &http.Client{Timeout: 30 * time.Second}
	if insecure {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	return &Client{Server: strings.TrimSuffix(server, "/"), Token: token, HTTP: c}
}

// Do sends method to path (under Prefix, such as "state" or
// "target_groups/web") with query and the JSON of body (nil: none), and
// decodes a 2xx answer into out (nil: discard). It returns the answer's
// ETag version, or 0. A non-2xx answer is returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, ifMatch *uint64, body, out any) (uint64, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.Server + Prefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if ifMatch != nil {
		req.Header.Set("If-Match", etag(*ifMatch))
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, err
	}
	version, _ := strconv.ParseUint(strings.Trim(resp.Header.Get("ETag"), `"`), 10, 64)
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Code, e.Message = "http", fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
		}
		return version, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return version, fmt.Errorf("api: the answer to %s %s is not what was expected: %w", method, path, err)
		}
	}
	return version, nil
}

// State returns the server's desired state and its version.
func (c *Client) State(ctx context.Context) (*model.State, uint64, error) {
	var s model.State
	v, err := c.Do(ctx, http.MethodGet, "state", nil, nil, nil, &s)
	return &s, v, err
}

// Apply replaces the desired state by s as one change, conditional on
// version ifVersion when it is not nil.
func (c *Client) Apply(ctx context.Context, s *model.State, ifVersion *uint64, allowMassDelete bool) (*Result, error) {
	q := url.Values{"source": {"apply"}}
	if allowMassDelete {
		q.Set("allow_mass_delete", "true")
	}
	var res Result
	_, err := c.Do(ctx, http.MethodPut, "state", q, ifVersion, s, &res)
	return &res, err
}
