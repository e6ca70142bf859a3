package runner

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
)

// cmdServe runs the reference tenant until interrupted.
func cmdServe(args []string) (int, error) {
	fs := flag.NewFlagSet("myaccount-conformance serve", flag.ContinueOnError)
	var ref reference
	writeConfig := fs.String("write-config", "", "write a target config for 'run --config' to this file (its CA goes beside it)")
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	ref.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: myaccount-conformance serve [--write-config FILE] [--fault NAME]... [--misconfig NAME]... [--plan PLAN] [--refusals STYLE] [--prompts] [--dpop MODE] [--dpop-nonce] [--waive LIMIT]... [--sso=false] [--latency D] [--addr ADDR]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nFaults:\n")
		for _, f := range reftenant.Faults() {
			fmt.Fprintf(fs.Output(), "  %-28s %s\n", f.Name, f.Description)
		}
		fmt.Fprintf(fs.Output(), "\nMisconfigurations (tenant settings doctor names):\n")
		for _, m := range reftenant.Misconfigs() {
			fmt.Fprintf(fs.Output(), "  %-28s %s\n", m.Name, m.Description)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	dir, err := os.MkdirTemp("", "myaccount-reference-")
	if err != nil {
		return exitUsage, err
	}
	defer os.RemoveAll(dir)
	if *writeConfig != "" {
		dir = filepath.Dir(*writeConfig)
	}
	t, cfg, err := startReference(dir, *addr, ref)
	if err != nil {
		return exitUsage, err
	}
	defer t.Close()
	if *writeConfig != "" && cfg != *writeConfig {
		if err := os.Rename(cfg, *writeConfig); err != nil {
			return exitUsage, err
		}
		cfg = *writeConfig
	}
	custom := "https://" + strings.Join(t.CustomDomains(), " https://")
	fmt.Printf("reference tenant listening on %s\n  canonical domain https://%s\n  custom domain    %s\n  faults           %v\n  target config    %s\n",
		t.Addr(), t.Domain(), custom, t.Faults(), cfg)
	fmt.Printf("run the suite against it with:\n  myaccount-conformance run --config %s\n", cfg)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return exitConformant, nil
}
