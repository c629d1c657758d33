package l4proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/internal/model"
)

// LoadCertificates reads certs once and returns a function that picks the
// certificate whose names match the ClientHello's server name (exact
// before wildcard), the first certificate when none does or there is no
// SNI. It stands in until the shared certificate store (with reloads and
// smart selection) is wired through Config.Certificates.
func LoadCertificates(certs []model.Certificate) (GetCertificate, error) {
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	loaded := make([]*tls.Certificate, 0, len(certs))
	for _, c := range certs {
		kp, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.CertFile, err)
		}
		if kp.Leaf == nil {
			if kp.Leaf, err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
				return nil, fmt.Errorf("certificate %s: %w", c.CertFile, err)
			}
		}
		loaded = append(loaded, &kp)
	}
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
		if name == "" {
			return loaded[0], nil
		}
		var wild *tls.Certificate
		for _, c := range loaded {
			for _, n := range c.Leaf.DNSNames {
				n = strings.ToLower(n)
				if n == name {
					return c, nil
				}
				if wild == nil && strings.HasPrefix(n, "*.") {
					if i := strings.IndexByte(name, '.'); i > 0 && name[i:] == n[1:] {
						wild = c
					}
				}
			}
		}
		if wild != nil {
			return wild, nil
		}
		return loaded[0], nil
	}, nil
}
