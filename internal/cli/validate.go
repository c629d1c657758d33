package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/switchboard/switchboard/internal/config"
)

// validate checks every file named and prints every problem, one per line,
// as FILE:LINE:COL: path.to.field: what is wrong (what is allowed).
func validate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: switchboard validate FILE...") }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	code := 0
	for _, file := range fs.Args() {
		_, err := config.Load(file)
		if err == nil {
			continue
		}
		code = 1
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(stdout, e)
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: %v\n", file, err)
	}
	return code
}
