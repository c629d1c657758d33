package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/model"
)

// history lists the versions of the desired state, newest first.
func history(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, r := verbFlags("history", "history [flags]: list changes, newest first", stderr)
	limit := fs.Int("limit", 20, "show at most `N` changes")
	before := fs.Uint64("before", 0, "show changes before `VERSION`")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 0 || r.check() != nil {
		fs.Usage()
		return 2
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *before > 0 {
		q.Set("before", strconv.FormatUint(*before, 10))
	}
	var hist []api.Version
	if code, done := r.get(ctx, r.client(), "history", "history", q, &hist, stdout, stderr); done {
		return code
	}
	var rows [][]string
	for _, h := range hist {
		rows = append(rows, []string{strconv.FormatUint(h.Version, 10), h.Time.Local().Format(time.DateTime), h.Source, dash(h.Author), h.Summary})
	}
	table(stdout, []string{"VERSION", "TIME", "SOURCE", "AUTHOR", "SUMMARY"}, rows)
	return 0
}

// rollback commits the state of an earlier version as a new version.
func rollback(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, r := verbFlags("rollback", "rollback VERSION [flags]: make the state of VERSION the running state again, as a new version", stderr)
	allow := fs.Bool("allow-mass-delete", false, "allow deleting more than the server's budget")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || r.check() != nil {
		fs.Usage()
		return 2
	}
	v, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "switchboard rollback: %q is not a version\n", pos[0])
		return 2
	}
	var q url.Values
	if *allow {
		q = url.Values{"allow_mass_delete": {"true"}}
	}
	var res api.Result
	if _, err := r.client().Do(ctx, http.MethodPost, "rollback", q, nil, api.RollbackRequest{Version: v}, &res); err != nil {
		return fail(stderr, "rollback", err)
	}
	return printResult(r, stdout, res)
}

func printResult(r *remote, stdout io.Writer, res api.Result) int {
	if r.output == "json" {
		printJSON(stdout, res)
		return 0
	}
	if !res.Committed {
		fmt.Fprintf(stdout, "No changes: version %d stays.\n", res.Version)
		return 0
	}
	fmt.Fprintf(stdout, "Version %d (was %d): %s\n", res.Version, res.Previous, res.Summary)
	return 0
}

// shift starts, extends, cancels and lists zonal shifts.
func shift(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "shift start|extend|cancel|list [flags]: move traffic away from a zone of a load balancer or target group\n" +
		"  switchboard shift start --load-balancer web --away-from a --expires-in 1h [--comment why]\n" +
		"  switchboard shift extend --load-balancer web --expires-in 2h\n" +
		"  switchboard shift cancel --load-balancer web\n" +
		"  switchboard shift list"
	fs, r := verbFlags("shift", usage, stderr)
	lb := fs.String("load-balancer", "", "the load balancer `NAME` to shift")
	tg := fs.String("target-group", "", "the target group `NAME` to shift")
	away := fs.String("away-from", "", "the `ZONE` to move traffic away from")
	expires := fs.Duration("expires-in", time.Hour, "how long the shift lasts, 1m–72h")
	comment := fs.String("comment", "", "why, for people")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || r.check() != nil {
		fs.Usage()
		return 2
	}
	c := r.client()
	var res api.Result
	req := api.ShiftRequest{LoadBalancer: *lb, TargetGroup: *tg, AwayFrom: *away, ExpiresIn: model.Duration(*expires), Comment: *comment}
	target := func() (string, bool) {
		switch {
		case (*lb == "") == (*tg == ""):
			fmt.Fprintln(stderr, "switchboard shift: name one of --load-balancer and --target-group")
			return "", false
		case *lb != "":
			return "zonal_shifts/load_balancer/" + url.PathEscape(*lb), true
		}
		return "zonal_shifts/target_group/" + url.PathEscape(*tg), true
	}
	switch pos[0] {
	case "list":
		var l []api.Shift
		if code, done := r.get(ctx, c, "shift", "zonal_shifts", nil, &l, stdout, stderr); done {
			return code
		}
		var rows [][]string
		for _, s := range l {
			rows = append(rows, shiftRow(s))
		}
		table(stdout, shiftHeader, rows)
		return 0
	case "start":
		if _, ok := target(); !ok {
			return 2
		}
		_, err = c.Do(ctx, http.MethodPost, "zonal_shifts", nil, nil, req, &res)
	case "extend":
		path, ok := target()
		if !ok {
			return 2
		}
		_, err = c.Do(ctx, http.MethodPatch, path, nil, nil, api.ShiftRequest{ExpiresIn: req.ExpiresIn, Comment: req.Comment}, &res)
	case "cancel":
		path, ok := target()
		if !ok {
			return 2
		}
		_, err = c.Do(ctx, http.MethodDelete, path, nil, nil, nil, &res)
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		return fail(stderr, "shift", err)
	}
	return printResult(r, stdout, res)
}

// healthVerb shows health: every status, one target group per zone and
// target, one check per checker, or the zones.
func healthVerb(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, r := verbFlags("health", "health [--target-group NAME | --check NAME [--target ADDR:PORT] | --zones] [flags]: show health", stderr)
	tg := fs.String("target-group", "", "show target group `NAME` per zone and target")
	check := fs.String("check", "", "show check `NAME` per checker")
	target := fs.String("target", "", "with --check, the target `ADDR:PORT` of a target group's probe")
	zones := fs.Bool("zones", false, "show every zone")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 0 || r.check() != nil {
		fs.Usage()
		return 2
	}
	c := r.client()
	switch {
	case *tg != "":
		var g api.GroupHealth
		if code, done := r.get(ctx, c, "health", "health/target_groups/"+url.PathEscape(*tg), nil, &g, stdout, stderr); done {
			return code
		}
		fmt.Fprintf(stdout, "target group %s: %d of %d healthy%s (view version %d)\n\n", g.Name, g.Healthy, g.Registered, when(g.FailingOpen, ", FAILING OPEN"), g.Version)
		var rows [][]string
		for _, z := range g.Zones {
			flags := []string{}
			if z.Shifted {
				flags = append(flags, "shifted")
			}
			if z.FailingOpen {
				flags = append(flags, "failing open")
			}
			if !z.DNSHealthy {
				flags = append(flags, "out of DNS")
			}
			rows = append(rows, []string{z.Zone, fmt.Sprintf("%d/%d", z.Healthy, z.Registered), dash(strings.Join(z.Routable, " ")), dash(strings.Join(flags, ", "))})
		}
		table(stdout, []string{"ZONE", "HEALTHY", "ROUTES TO", "NOTES"}, rows)
		fmt.Fprintln(stdout)
		statusTable(stdout, g.Targets)
		return 0
	case *check != "":
		q := url.Values{}
		if *target != "" {
			q.Set("target", *target)
		}
		var s api.Status
		if code, done := r.get(ctx, c, "health", "health/checks/"+url.PathEscape(*check), q, &s, stdout, stderr); done {
			return code
		}
		statusTable(stdout, []api.Status{s})
		if len(s.Checkers) > 0 {
			fmt.Fprintln(stdout)
			var rows [][]string
			for _, o := range s.Checkers {
				rows = append(rows, []string{o.Checker, when(o.Healthy, "healthy", "unhealthy"), o.Latency, o.Time.Local().Format(time.TimeOnly), dash(o.Reason)})
			}
			table(stdout, []string{"CHECKER", "RESULT", "LATENCY", "AT", "REASON"}, rows)
		}
		return 0
	case *zones:
		var zs []api.ZoneSummary
		if code, done := r.get(ctx, c, "health", "health/zones", nil, &zs, stdout, stderr); done {
			return code
		}
		var rows [][]string
		for _, z := range zs {
			rows = append(rows, []string{z.Zone, fmt.Sprintf("%d/%d", z.Healthy, z.Registered), fmt.Sprintf("%d/%d", z.NodesInDNS, z.Nodes), dash(strings.Join(z.ShiftedGroups, " "))})
		}
		table(stdout, []string{"ZONE", "TARGETS HEALTHY", "NODES IN DNS", "SHIFTED GROUPS"}, rows)
		return 0
	}
	var all []api.Status
	if code, done := r.get(ctx, c, "health", "health", nil, &all, stdout, stderr); done {
		return code
	}
	statusTable(stdout, all)
	return 0
}

func statusTable(w io.Writer, ss []api.Status) {
	var rows [][]string
	for _, s := range ss {
		since := "-"
		if !s.Since.IsZero() {
			since = s.Since.Local().Format(time.DateTime)
		}
		rows = append(rows, []string{s.Check, dash(s.Target), s.Status, since, dash(s.Reason)})
	}
	table(w, []string{"CHECK", "TARGET", "STATUS", "SINCE", "REASON"}, rows)
}

func when(b bool, yes string, no ...string) string {
	if b {
		return yes
	}
	if len(no) > 0 {
		return no[0]
	}
	return ""
}

// answer asks the live view what DNS answers a client, or where an HTTP
// request goes.
func answer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "answer NAME [TYPE] [--client ADDR|CIDR] | answer --load-balancer LB [--port N] [--host H] [--path P] [--method M] [--header K:V]... [--source ADDR] [--zone Z]\n" +
		"  ask the live view what DNS would answer, or where an HTTP request would go"
	fs, r := verbFlags("answer", usage, stderr)
	client := fs.String("client", "", "the client's `address` or network (as EDNS Client Subnet carries it)")
	lb := fs.String("load-balancer", "", "ask where a request to load balancer `LB` goes")
	port := fs.Int("port", 0, "the listener's `port` (needed when the balancer has several)")
	host := fs.String("host", "", "the request's Host")
	path := fs.String("path", "/", "the request's path")
	method := fs.String("method", "GET", "the request's method")
	query := fs.String("query", "", "the request's query string")
	source := fs.String("source", "", "the client's `address`")
	zone := fs.String("zone", "", "the `zone` of the node that takes the request")
	var headers multiFlag
	fs.Var(&headers, "header", "a request header `Name:Value` (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if r.check() != nil || (*lb == "" && (len(pos) < 1 || len(pos) > 2)) || (*lb != "" && len(pos) != 0) {
		fs.Usage()
		return 2
	}
	c := r.client()
	if *lb != "" {
		q := url.Values{"load_balancer": {*lb}, "host": {*host}, "path": {*path}, "method": {*method}, "query": {*query}, "source": {*source}, "zone": {*zone}, "header": headers}
		if *port != 0 {
			q.Set("port", strconv.Itoa(*port))
		}
		var ra api.RouteAnswer
		if code, done := r.get(ctx, c, "answer", "route", q, &ra, stdout, stderr); done {
			return code
		}
		rule := "default action"
		if ra.Rule != 0 {
			rule = fmt.Sprintf("rule %d", ra.Rule)
		}
		fmt.Fprintf(stdout, "%s port %d: %s → %s (view version %d)\n", ra.LoadBalancer, ra.Port, rule, ra.Action, ra.Version)
		switch {
		case ra.Redirect != nil:
			b, _ := jsonString(ra.Redirect)
			fmt.Fprintln(stdout, "  redirect", b)
		case ra.FixedResponse != nil:
			fmt.Fprintf(stdout, "  fixed response %d %q\n", ra.FixedResponse.Status, ra.FixedResponse.Body)
		}
		var rows [][]string
		for _, g := range ra.TargetGroups {
			rows = append(rows, []string{g.Name, strconv.Itoa(g.Weight), dash(strings.Join(g.Targets, " ")), when(g.FailingOpen, "failing open", "-")})
		}
		if len(rows) > 0 {
			table(stdout, []string{"TARGET GROUP", "WEIGHT", "TARGETS", "NOTES"}, rows)
		}
		return 0
	}
	q := url.Values{"name": {pos[0]}}
	if len(pos) == 2 {
		q.Set("type", pos[1])
	}
	if *client != "" {
		q.Set("client", *client)
	}
	var a api.DNSAnswer
	if code, done := r.get(ctx, c, "answer", "answer", q, &a, stdout, stderr); done {
		return code
	}
	fmt.Fprintf(stdout, "%s %s from %s: %s (view version %d)\n", a.Name, a.Type, a.Client, a.Rcode, a.Version)
	var rows [][]string
	for _, rr := range a.Answer {
		rows = append(rows, []string{rr.Name, strconv.FormatUint(uint64(rr.TTL), 10), rr.Type, strings.TrimSpace(rr.Value)})
	}
	for _, rr := range a.Authority {
		rows = append(rows, []string{rr.Name, strconv.FormatUint(uint64(rr.TTL), 10), rr.Type, strings.TrimSpace(rr.Value) + "  (authority)"})
	}
	if len(rows) > 0 {
		table(stdout, []string{"NAME", "TTL", "TYPE", "VALUE"}, rows)
	}
	return 0
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
