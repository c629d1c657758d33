package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/model"
)

// kindTitles name the kinds of model.Diff for people, in its order.
var kindTitles = map[string]string{
	"regions": "regions", "zones": "zones", "health_checks": "health checks", "cidr_collections": "CIDR collections",
	"hosted_zones": "hosted zones", "records": "records", "target_groups": "target groups",
	"load_balancers": "load balancers", "zonal_shifts": "zonal shifts",
}

// loadPlan reads FILE (validated as `validate` does) and the running state,
// and returns the diff between them and the version it was taken at.
func loadPlan(ctx context.Context, r *remote, file string, stdout io.Writer) (*model.Document, []model.ResourceChange, uint64, error) {
	doc, err := config.Load(file)
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(stdout, e)
			}
			return nil, nil, 0, fmt.Errorf("%s is not valid (%d problems)", file, len(list))
		}
		return nil, nil, 0, err
	}
	cur, version, err := r.client().State(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	return doc, model.Diff(cur, &doc.State), version, nil
}

// printPlan prints the changes grouped by kind: + additions, ~ changes with
// the fields they change, - deletions; then the counts.
func printPlan(w io.Writer, changes []model.ResourceChange, version uint64, file string) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "No changes: %s matches the running state (version %d).\n", file, version)
		return
	}
	fmt.Fprintf(w, "Changes from the running state (version %d) to %s:\n", version, file)
	var add, chg, del int
	kind := ""
	for _, c := range changes {
		if c.Kind != kind {
			kind = c.Kind
			fmt.Fprintf(w, "\n%s:\n", kindTitles[kind])
		}
		fmt.Fprintf(w, "  %c %s\n", c.Op, c.Name)
		switch c.Op {
		case model.Add:
			add++
		case model.Change:
			chg++
			for _, line := range fieldDiff(c.Old, c.New) {
				fmt.Fprintf(w, "      %s\n", line)
			}
		case model.Remove:
			del++
		}
	}
	fmt.Fprintf(w, "\nPlan: %d to add, %d to change, %d to delete.\n", add, chg, del)
}

// plan prints what apply would change.
func plan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, r := verbFlags("plan", "plan FILE [flags]: show what apply FILE would change in the running state", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || r.check() != nil {
		fs.Usage()
		return 2
	}
	_, changes, version, err := loadPlan(ctx, r, pos[0], stdout)
	if err != nil {
		return fail(stderr, "plan", err)
	}
	if r.output == "json" {
		printJSON(stdout, api.Result{Version: version, Previous: version, Summary: model.Summary(changes), Changes: api.Changes(changes)})
		return 0
	}
	printPlan(stdout, changes, version, pos[0])
	if dels := api.MassDeletes(changes); len(dels) > model.DefaultMaxDeletes {
		fmt.Fprintf(stdout, "Note: this deletes %d records, target groups and load balancers; apply needs --allow-mass-delete (or --max-deletes).\n", len(dels))
	}
	return 0
}

// apply applies FILE's state as one change, conditional on the version the
// plan was made against.
func apply(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, r := verbFlags("apply", "apply FILE [flags]: make the running state FILE's, as one change", stderr)
	maxDeletes := fs.Int("max-deletes", model.DefaultMaxDeletes, "refuse to delete more than `N` records, target groups and load balancers")
	allow := fs.Bool("allow-mass-delete", false, "delete any number (the server's budget too)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || r.check() != nil || *maxDeletes < 0 {
		fs.Usage()
		return 2
	}
	file := pos[0]
	doc, changes, version, err := loadPlan(ctx, r, file, stdout)
	if err != nil {
		return fail(stderr, "apply", err)
	}
	if r.output == "table" {
		printPlan(stdout, changes, version, file)
	}
	if len(changes) == 0 {
		if r.output == "json" {
			printJSON(stdout, api.Result{Version: version, Previous: version, Summary: "no changes", Changes: []api.Change{}})
		}
		return 0
	}
	if dels := api.MassDeletes(changes); len(dels) > *maxDeletes && !*allow {
		fmt.Fprintf(stderr, "switchboard apply: refused: this deletes %d records, target groups and load balancers, more than --max-deletes %d.\n", len(dels), *maxDeletes)
		for _, c := range dels {
			fmt.Fprintf(stderr, "  - %s %s\n", c.Kind, c.Name)
		}
		fmt.Fprintln(stderr, "Check the plan; if you mean it, repeat with --allow-mass-delete.")
		return 1
	}
	res, err := r.client().Apply(ctx, &doc.State, &version, *allow)
	if err != nil {
		return fail(stderr, "apply", err)
	}
	if r.output == "json" {
		printJSON(stdout, res)
		return 0
	}
	fmt.Fprintf(stdout, "Applied: version %d (was %d).\n", res.Version, res.Previous)
	return 0
}
