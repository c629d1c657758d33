package route53

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file verifies AWS Signature Version 4 (the Authorization header
// form) the way AWS documents it: rebuild the canonical request from what
// arrived, hash it into the string to sign, derive the signing key from the
// secret with the HMAC chain over date, region, service and "aws4_request",
// and compare MACs in constant time.

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	sigService   = "route53"
	amzDate      = "20060102T150405Z"
	// maxSkew is how far the request's time may be from ours, as AWS.
	maxSkew = 15 * time.Minute
)

// authError is why a request was refused; code is Route 53's.
type authError struct{ code, msg string }

// verify checks r's signature over body. It returns nil when the request
// is signed by a known key for our region and service, within maxSkew of now.
func (h *Handler) verify(r *http.Request, body []byte, now time.Time) *authError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return &authError{"InvalidRequest", "presigned URLs are not supported; sign the Authorization header"}
		}
		return &authError{"MissingAuthenticationToken", "Missing Authentication Token"}
	}
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != sigAlgorithm {
		return &authError{"IncompleteSignature", "Authorization header requires the " + sigAlgorithm + " algorithm"}
	}
	var cred, signed, sig string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	if cred == "" || signed == "" || sig == "" {
		return &authError{"IncompleteSignature", "Authorization header requires Credential, SignedHeaders and Signature"}
	}
	// Credential is KEY/DATE/REGION/SERVICE/aws4_request.
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return &authError{"IncompleteSignature", "Credential must be ACCESS_KEY/DATE/REGION/SERVICE/aws4_request"}
	}
	keyID, day, region, service := parts[0], parts[1], parts[2], parts[3]
	secret, ok := h.keys[keyID]
	if !ok {
		return &authError{"InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	if service != sigService {
		return &authError{"SignatureDoesNotMatch", "Credential should be scoped to correct service: '" + sigService + "'."}
	}
	if region != h.region {
		return &authError{"SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '" + region + "'; this endpoint signs for '" + h.region + "'."}
	}
	stamp := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDate, stamp)
	if err != nil {
		return &authError{"IncompleteSignature", "X-Amz-Date header is missing or not in the form 20060102T150405Z"}
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return &authError{"SignatureDoesNotMatch", "Signature expired: " + stamp + " is more than 15 minutes away from the server's time " + now.UTC().Format(amzDate)}
	}
	if day != stamp[:8] {
		return &authError{"SignatureDoesNotMatch", "Credential should be scoped to the date of X-Amz-Date, " + stamp[:8]}
	}
	headers := strings.Split(signed, ";")
	if !sort.StringsAreSorted(headers) || !contains(headers, "host") {
		return &authError{"SignatureDoesNotMatch", "SignedHeaders must be sorted and include host"}
	}
	payload := hashHex(body)
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" {
		if claimed != payload && claimed != "UNSIGNED-PAYLOAD" {
			return &authError{"SignatureDoesNotMatch", "The provided X-Amz-Content-Sha256 header does not match what was computed."}
		}
		payload = claimed
	}
	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery(r.URL),
		canonicalHeaders(r, headers),
		signed,
		payload,
	}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	toSign := sigAlgorithm + "\n" + stamp + "\n" + scope + "\n" + hashHex([]byte(canonical))
	key := mac([]byte("AWS4"+secret), day)
	key = mac(key, region)
	key = mac(key, service)
	key = mac(key, "aws4_request")
	want := hex.EncodeToString(mac(key, toSign))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return &authError{"SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mac(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// canonicalURI is the path as sent, URI-encoded once more: for every
// service but S3, SigV4 encodes the already-encoded path again.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return awsEscape(p, false)
}

// canonicalQuery sorts the query parameters by name, then value, each
// URI-encoded.
func canonicalQuery(u *url.URL) string {
	q := u.Query()
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, awsEscape(k, true)+"="+awsEscape(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// canonicalHeaders lists the signed headers as name:value lines, values
// trimmed and inner runs of spaces collapsed, several values joined by commas.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		var vals []string
		switch n {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values("Content-Length")
			if len(vals) == 0 && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			vals = r.Header.Values(n)
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}

// awsEscape percent-encodes every byte but the unreserved ones (RFC 3986),
// and '/' unless slash is set.
func awsEscape(s string, slash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !slash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
