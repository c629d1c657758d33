// Package cli is switchboard's command line: serve, validate and version,
// and the verbs that talk to a running server's API (plan.go: plan and
// apply; get.go: get and describe; ops.go: history, rollback, shift, health
// and answer), each parsing its own flags. The API verbs take --server
// (env SWITCHBOARD_SERVER, default http://127.0.0.1:9090), --token (env
// SWITCHBOARD_TOKEN) and -o table|json.
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// verb is one subcommand.
type verb struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func verbs() []verb {
	return []verb{
		{"serve", "run every component enabled in a configuration file", serve},
		{"validate", "check configuration files and print every problem", validate},
		{"demo", "run a demo: three zones of backends behind DNS and a load balancer", demoVerb},
		{"target-setup", "put a VIP on this target's loopback for a DSR balancer (--undo removes it)", targetSetup},
		{"version", "print the version", version},
		{"plan", "show what applying a file would change in the running state", plan},
		{"apply", "make a file's state the running state, as one change", apply},
		{"get", "list resources of a kind, or show one", get},
		{"describe", "show one resource in full", describe},
		{"history", "list the versions of the desired state", history},
		{"rollback", "make an earlier version the running state again", rollback},
		{"shift", "start, extend, cancel or list zonal shifts", shift},
		{"health", "show health per check, target, group and zone", healthVerb},
		{"answer", "ask the live view what DNS answers or where a request goes", answer},
	}
}

// Main runs the verb named by args[1] and returns the exit code: 0 on
// success, 1 when the work failed, 2 for a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		usage(stderr)
		return 2
	}
	name := args[1]
	for _, v := range verbs() {
		if v.name == name {
			return v.run(ctx, args[2:], stdout, stderr)
		}
	}
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: switchboard <command> [flags]\n\ncommands:\n")
	for _, v := range verbs() {
		fmt.Fprintf(&b, "  %-10s %s\n", v.name, v.summary)
	}
	b.WriteString("\nRun 'switchboard <command> -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3";
// otherwise it comes from the module and VCS information in the binary.
var Version = ""

func versionString() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return fmt.Sprintf("%s (%s%s)", v, rev, dirty)
	}
	return v
}

func version(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: switchboard version")
		return 2
	}
	fmt.Fprintf(stdout, "switchboard %s\n", versionString())
	return 0
}
