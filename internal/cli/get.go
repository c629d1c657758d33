package cli

import (
	"context"
	"encoding/json"
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

// resourceKinds maps what people type to the API's kind.
var resourceKinds = map[string]string{
	"region": "regions", "regions": "regions",
	"zone": "zones", "zones": "zones",
	"health_check": "health_checks", "health_checks": "health_checks", "health-check": "health_checks", "health-checks": "health_checks", "hc": "health_checks",
	"cidr_collection": "cidr_collections", "cidr_collections": "cidr_collections", "cidr-collections": "cidr_collections",
	"hosted_zone": "hosted_zones", "hosted_zones": "hosted_zones", "hosted-zone": "hosted_zones", "hosted-zones": "hosted_zones", "hz": "hosted_zones",
	"target_group": "target_groups", "target_groups": "target_groups", "target-group": "target_groups", "target-groups": "target_groups", "tg": "target_groups",
	"load_balancer": "load_balancers", "load_balancers": "load_balancers", "load-balancer": "load_balancers", "load-balancers": "load_balancers", "lb": "load_balancers",
	"zonal_shift": "zonal_shifts", "zonal_shifts": "zonal_shifts", "shifts": "zonal_shifts",
	"record": "records", "records": "records",
}

const kindList = "regions, zones, health_checks, cidr_collections, hosted_zones, records ZONE, target_groups, load_balancers, zonal_shifts"

// get lists the resources of a kind, or shows one.
func get(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, r := verbFlags("get", "get KIND [NAME] [flags]: list resources ("+kindList+")", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) < 1 || len(pos) > 2 || r.check() != nil {
		fs.Usage()
		return 2
	}
	kind, ok := resourceKinds[strings.ToLower(pos[0])]
	if !ok {
		fmt.Fprintf(stderr, "switchboard get: %q is not a kind; want one of %s\n", pos[0], kindList)
		return 2
	}
	c := r.client()
	if len(pos) == 2 && kind != "records" {
		return describeOne(ctx, r, kind, pos[1], stdout, stderr, "get")
	}
	path := kind
	if kind == "records" {
		if len(pos) != 2 {
			fmt.Fprintln(stderr, "usage: switchboard get records ZONE")
			return 2
		}
		path = "hosted_zones/" + url.PathEscape(pos[1]) + "/records"
	}
	var raw []map[string]any
	if code, done := r.get(ctx, c, "get", path, nil, &raw, stdout, stderr); done {
		return code
	}
	header, rows, err := listTable(kind, raw)
	if err != nil {
		return fail(stderr, "get", err)
	}
	table(stdout, header, rows)
	return 0
}

// listTable renders resources of kind as rows, decoded into their model types.
func listTable(kind string, raw []map[string]any) ([]string, [][]string, error) {
	var rows [][]string
	switch kind {
	case "regions":
		var l []model.Region
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			rows = append(rows, []string{x.Name, floatOr(x.Latitude), floatOr(x.Longitude)})
		}
		return []string{"NAME", "LATITUDE", "LONGITUDE"}, rows, nil
	case "zones":
		var l []model.Zone
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			rows = append(rows, []string{x.Name, dash(x.Region)})
		}
		return []string{"NAME", "REGION"}, rows, nil
	case "health_checks":
		var l []model.HealthCheck
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			rows = append(rows, []string{x.Name, string(x.Type), dash(x.Address), x.Interval.String()})
		}
		return []string{"NAME", "TYPE", "ADDRESS", "INTERVAL"}, rows, nil
	case "cidr_collections":
		var l []model.CIDRCollection
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			rows = append(rows, []string{x.Name, strconv.Itoa(len(x.Locations))})
		}
		return []string{"NAME", "LOCATIONS"}, rows, nil
	case "hosted_zones":
		var l []model.HostedZone
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			rows = append(rows, []string{x.Name, strconv.Itoa(len(x.Records)), dash(x.Comment)})
		}
		return []string{"NAME", "RECORDS", "COMMENT"}, rows, nil
	case "records":
		var l []model.RecordSet
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			val := strings.Join(x.Values, " ")
			if x.Alias != nil {
				b, _ := jsonString(x.Alias)
				val = "alias " + b
			}
			ttl := "-"
			if x.TTL != nil {
				ttl = x.TTL.String()
			}
			rows = append(rows, []string{x.Name, string(x.Type), dash(x.SetIdentifier), ttl, dash(x.HealthCheck), val})
		}
		return []string{"NAME", "TYPE", "SET", "TTL", "HEALTH CHECK", "VALUES"}, rows, nil
	case "target_groups":
		var l []model.TargetGroup
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			rows = append(rows, []string{x.Name, string(x.Protocol), strconv.Itoa(x.Port), strconv.Itoa(len(x.Targets)), string(x.Algorithm)})
		}
		return []string{"NAME", "PROTOCOL", "PORT", "TARGETS", "ALGORITHM"}, rows, nil
	case "load_balancers":
		var l []model.LoadBalancer
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			var ls []string
			for _, li := range x.Listeners {
				ls = append(ls, fmt.Sprintf("%s/%d", li.Protocol, li.Port))
			}
			rows = append(rows, []string{x.Name, dash(x.DNSName), strconv.Itoa(len(x.Nodes)), dash(strings.Join(ls, ","))})
		}
		return []string{"NAME", "DNS NAME", "NODES", "LISTENERS"}, rows, nil
	case "zonal_shifts":
		var l []api.Shift
		if err := reDecode(raw, &l); err != nil {
			return nil, nil, err
		}
		for _, x := range l {
			rows = append(rows, shiftRow(x))
		}
		return shiftHeader, rows, nil
	}
	return nil, nil, fmt.Errorf("no table for %s", kind)
}

var shiftHeader = []string{"RESOURCE", "AWAY FROM", "EXPIRES", "ACTIVE", "COMMENT"}

func shiftRow(x api.Shift) []string {
	res := "load_balancer/" + x.LoadBalancer
	if x.TargetGroup != "" {
		res = "target_group/" + x.TargetGroup
	}
	left := ""
	if x.Active {
		left = " (in " + time.Until(x.ExpiresAt).Round(time.Second).String() + ")"
	}
	return []string{res, x.AwayFrom, x.ExpiresAt.Format(time.RFC3339) + left, strconv.FormatBool(x.Active), dash(x.Comment)}
}

// describe shows one resource in full, as YAML (or JSON).
func describe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, r := verbFlags("describe", "describe KIND NAME [flags]: show one resource in full (records: describe record ZONE NAME TYPE [SET])", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) < 2 || r.check() != nil {
		fs.Usage()
		return 2
	}
	kind, ok := resourceKinds[strings.ToLower(pos[0])]
	if !ok || kind == "zonal_shifts" {
		fmt.Fprintf(stderr, "switchboard describe: %q is not a kind; want one of %s\n", pos[0], kindList)
		return 2
	}
	if kind == "records" {
		if len(pos) < 4 || len(pos) > 5 {
			fmt.Fprintln(stderr, "usage: switchboard describe record ZONE NAME TYPE [SET_IDENTIFIER]")
			return 2
		}
		path := "hosted_zones/" + url.PathEscape(pos[1]) + "/records/" + url.PathEscape(pos[2]) + "/" + url.PathEscape(pos[3])
		var q url.Values
		if len(pos) == 5 {
			q = url.Values{"set_identifier": {pos[4]}}
		}
		var raw json.RawMessage
		if _, err := r.client().Do(ctx, http.MethodGet, path, q, nil, nil, &raw); err != nil {
			return fail(stderr, "describe", err)
		}
		return show(r, stdout, stderr, raw)
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	return describeOne(ctx, r, kind, pos[1], stdout, stderr, "describe")
}

func describeOne(ctx context.Context, r *remote, kind, name string, stdout, stderr io.Writer, verb string) int {
	var raw json.RawMessage
	if _, err := r.client().Do(ctx, http.MethodGet, kind+"/"+url.PathEscape(name), nil, nil, nil, &raw); err != nil {
		return fail(stderr, verb, err)
	}
	return show(r, stdout, stderr, raw)
}

func show(r *remote, stdout, stderr io.Writer, v any) int {
	if r.output == "json" {
		printJSON(stdout, v)
		return 0
	}
	if err := printYAML(stdout, v); err != nil {
		fmt.Fprintln(stderr, "switchboard:", err)
		return 1
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func floatOr(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}
