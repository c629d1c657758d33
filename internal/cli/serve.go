package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/switchboard/switchboard/internal/server"
)

// serve runs the server until SIGTERM or SIGINT; SIGHUP re-reads the file.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration `file` (required)")
	dataDir := fs.String("data-dir", "", "`directory` for the state store (default "+defaultDataDir()+")")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: switchboard serve --config FILE [--data-dir DIR]")
		return 2
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard serve:", err)
		return 2
	}
	if *dataDir == "" {
		*dataDir = defaultDataDir()
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() { // forwards SIGHUP until serve returns
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // a reload is already pending
				}
			}
		}
	}()

	srv, err := server.New(server.Config{
		ConfigPath: *configPath,
		DataDir:    *dataDir,
		Logger:     log,
		Version:    versionString(),
		Reload:     reload,
	})
	if err != nil {
		fmt.Fprintln(stderr, "switchboard serve:", err)
		return 1
	}
	log.Info("starting", "version", versionString(), "config", *configPath, "data_dir", *dataDir)
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "switchboard serve:")
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// defaultDataDir is $XDG_DATA_HOME/switchboard, else ~/.local/share/switchboard,
// else ./switchboard-data when there is no home directory.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "switchboard")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "switchboard")
	}
	return "switchboard-data"
}
