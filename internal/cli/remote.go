package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard/switchboard/internal/api"
)

// Environment variables the API verbs read when their flags are not given.
const (
	envServer = "SWITCHBOARD_SERVER" // --server
	envToken  = "SWITCHBOARD_TOKEN"  // --token
)

// remote holds the flags every verb that talks to the API has.
type remote struct {
	server, token, output string
	insecure              bool
}

func (r *remote) register(fs *flag.FlagSet) {
	def := os.Getenv(envServer)
	if def == "" {
		def = "http://127.0.0.1:9090"
	}
	fs.StringVar(&r.server, "server", def, "admin listener `URL` of the running server (env "+envServer+")")
	fs.StringVar(&r.token, "token", os.Getenv(envToken), "bearer `token` for the API (env "+envToken+")")
	fs.StringVar(&r.output, "o", "table", "output: table or json")
	fs.BoolVar(&r.insecure, "insecure", false, "do not verify the server's TLS certificate")
}

func (r *remote) client() *api.Client { return api.NewClient(r.server, r.token, r.insecure) }

// get fetches path (with query q, which may be nil) into out, a pointer,
// and with -o json prints it. done says the verb is over, an error
// printed or the JSON written, with code its exit code; otherwise the
// caller prints out for people.
func (r *remote) get(ctx context.Context, c *api.Client, verb, path string, q url.Values, out any, stdout, stderr io.Writer) (code int, done bool) {
	if _, err := c.Do(ctx, http.MethodGet, path, q, nil, nil, out); err != nil {
		return fail(stderr, verb, err), true
	}
	if r.output == "json" {
		printJSON(stdout, out)
		return 0, true
	}
	return 0, false
}

// check validates the flags after parsing.
func (r *remote) check() error {
	if r.output != "table" && r.output != "json" {
		return fmt.Errorf("-o %q: want table or json", r.output)
	}
	return nil
}

// verbFlags makes the flag set of a remote verb; usage is its one-line synopsis.
func verbFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *remote) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	r := &remote{}
	r.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: switchboard %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs, r
}

// parseArgs parses flags that may come before or after the positional
// arguments, as people type them.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// fail prints err for people and returns the exit code 1.
func fail(stderr io.Writer, verb string, err error) int {
	var e *api.Error
	if errors.As(err, &e) {
		fmt.Fprintf(stderr, "switchboard %s: %s", verb, e.Message)
		if e.Path != "" {
			fmt.Fprintf(stderr, " (at %s)", e.Path)
		}
		fmt.Fprintf(stderr, " [%s]\n", e.Code)
		if len(e.Errors) > 1 {
			for _, fe := range e.Errors {
				line := "  " + fe.Path + ": " + fe.Message
				if fe.Allowed != "" {
					line += " (" + fe.Allowed + ")"
				}
				fmt.Fprintln(stderr, line)
			}
		}
		for _, c := range e.Changes {
			fmt.Fprintf(stderr, "  %s %s %s\n", c.Op, c.Kind, c.Name)
		}
		return 1
	}
	fmt.Fprintf(stderr, "switchboard %s: %v\n", verb, err)
	return 1
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// printYAML prints v as YAML in the field order and with the omissions of
// its JSON form (which leaves out empty optional fields).
func printYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil { // JSON is YAML
		return err
	}
	blockStyle(&n)
	out, err := yaml.Marshal(&n)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && needsQuotes(n.Value) {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// needsQuotes is true for strings YAML would read as something else.
func needsQuotes(s string) bool {
	var v any
	if yaml.Unmarshal([]byte(s), &v) != nil {
		return true
	}
	_, isStr := v.(string)
	return !isStr || v != s
}

// table prints rows under a header, aligned.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// fieldDiff lists the fields that differ between old and new, compared in
// their JSON form, as "path: old → new" lines.
func fieldDiff(old, new any) []string {
	var o, n any
	ob, _ := json.Marshal(old)
	nb, _ := json.Marshal(new)
	json.Unmarshal(ob, &o)
	json.Unmarshal(nb, &n)
	var out []string
	diffValue(&out, "", o, n)
	return out
}

func diffValue(out *[]string, path string, o, n any) {
	om, ok1 := o.(map[string]any)
	nm, ok2 := n.(map[string]any)
	if ok1 && ok2 {
		var keys []string
		for k := range om {
			keys = append(keys, k)
		}
		for k := range nm {
			if _, ok := om[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValue(out, p, om[k], nm[k])
		}
		return
	}
	ol, ok1 := o.([]any)
	nl, ok2 := n.([]any)
	if ok1 && ok2 && len(ol) == len(nl) {
		for i := range ol {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), ol[i], nl[i])
		}
		return
	}
	if compact(o) != compact(n) {
		*out = append(*out, fmt.Sprintf("%s: %s → %s", path, compact(o), compact(n)))
	}
}

func compact(v any) string {
	if v == nil {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// reDecode converts generic JSON into a typed value.
func reDecode(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
