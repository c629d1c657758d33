// Package health decides whether endpoints are healthy. Every probe result
// and every passive signal from the proxies lands here, and nothing else
// decides health; the rest of switchboard reads the immutable snapshots it
// publishes (package health/state).
package health
