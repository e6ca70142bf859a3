package runner

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// cmdList prints the requirement catalogue.
func cmdList(args []string) (int, error) {
	fs := flag.NewFlagSet("myaccount-conformance list", flag.ContinueOnError)
	format := fs.String("format", "table", "table or yaml")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	reqs, err := spec.Requirements()
	if err != nil {
		return exitUsage, err
	}
	switch *format {
	case "yaml":
		out, err := yaml.Marshal(map[string]any{"requirements": reqs})
		if err != nil {
			return exitUsage, err
		}
		os.Stdout.Write(out)
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tLEVEL\tPROFILE\tSTATEMENT\tSOURCE")
		for _, r := range reqs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s, %s\n", r.ID, r.Level, r.Profile, r.Statement, r.Source, r.Section)
		}
		w.Flush()
	default:
		return exitUsage, usagef("list: --format must be table or yaml")
	}
	return exitConformant, nil
}
