package report_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with what the code renders now")

// The certification, the HTML page and report.md of a fixed, synthetic run match the golden
// files in testdata/ (go test ./runner/report/ -run Golden -update rewrites them;
// review the diff). Rendering twice gives the same bytes: no map order or clock
// reaches what users read.
func TestCertificationAndHTMLGolden(t *testing.T) {
	pictures, err := report.Pictures(filepath.Join("testdata", "pictures"), time.Time{})
	if err != nil || len(pictures) == 0 {
		t.Fatalf("pictures: %v, %d", err, len(pictures))
	}
	render := func() (yamlOut, htmlOut, mdOut []byte) {
		dir := t.TempDir()
		o := report.Build(reporttest.Input())
		if err := o.WriteYAML(dir); err != nil {
			t.Fatal(err)
		}
		if err := o.WriteHTML(dir, pictures); err != nil {
			t.Fatal(err)
		}
		if err := o.WriteMarkdown(dir); err != nil {
			t.Fatal(err)
		}
		return readFile(t, filepath.Join(dir, report.CertificationFile)), readFile(t, filepath.Join(dir, report.HTMLFile)),
			readFile(t, filepath.Join(dir, report.MarkdownFile))
	}
	y1, h1, m1 := render()
	y2, h2, m2 := render()
	if !bytes.Equal(y1, y2) || !bytes.Equal(h1, h2) || !bytes.Equal(m1, m2) {
		t.Error("two renderings of one run differ")
	}
	reporttest.Golden(t, filepath.Join("testdata", "certification.yaml.golden"), y1, *update)
	reporttest.Golden(t, filepath.Join("testdata", "report.html.golden"), h1, *update)
	reporttest.Golden(t, filepath.Join("testdata", "report.md.golden"), m1, *update)

	// What the golden certification holds reads back as what was built.
	c, err := report.ReadCertification(filepath.Join("testdata", "certification.yaml.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if rt := c.Run.ReferenceTenant; rt == nil || rt.TokenTTL != 45*time.Second || rt.Faults[0] != "enroll-start-200" {
		t.Errorf("reference tenant read back: %+v", rt)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
