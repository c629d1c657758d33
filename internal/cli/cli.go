// Package cli is switchboard's command line: one verb per file (serve,
// validate, version), each parsing its own flags.
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
		{"target-setup", "put a VIP on this target's loopback for a DSR balancer (--undo removes it)", targetSetup},
		{"version", "print the version", version},
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
