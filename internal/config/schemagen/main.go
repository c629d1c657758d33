// Command schemagen writes the JSON Schema of switchboard's configuration
// file. Run from the repository root with no flags, it reads the doc
// comments of internal/model and writes schema/switchboard.schema.json:
//
//	go run ./internal/config/schemagen
//
// go generate ./internal/config runs it with paths relative to that package.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/switchboard/switchboard/internal/config"
)

func main() {
	modelDir := flag.String("model", "internal/model", "directory of package internal/model, whose doc comments become descriptions")
	out := flag.String("out", "schema/switchboard.schema.json", "file to write")
	flag.Parse()
	if err := run(*modelDir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

func run(modelDir, out string) error {
	b, err := config.Schema(modelDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
