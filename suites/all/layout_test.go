package all

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/myaccount-conformance/myaccount-conformance/"

// The rules that keep the suites one room per area (ARCHITECTURE.md): an area
// imports the framework, the harness and spec, never another area; the framework
// imports no area; the harness imports neither.
func TestAreasImportNoOtherArea(t *testing.T) {
	areas := areaDirs(t)
	for _, dir := range append(slices.Clone(areas), "framework", "harness") {
		for file, imports := range importsUnder(t, filepath.Join("..", dir)) {
			for _, imp := range imports {
				rest, ok := strings.CutPrefix(imp, module+"suites/")
				if !ok {
					continue
				}
				top, _, _ := strings.Cut(rest, "/")
				switch {
				case top == dir || top == "harness":
				case top == "framework" && dir != "harness":
				default:
					t.Errorf("%s imports %s: %s may import the framework, the harness and spec, never another area", file, imp, dir)
				}
			}
		}
	}
}

// No file of suites/ over 600 lines, and no function over 80 lines but the bodies
// of Ginkgo containers, which list specs as a table does.
func TestSuitesStaySmall(t *testing.T) {
	walkGo(t, "..", func(path string, fset *token.FileSet, f *ast.File) {
		if n := fset.File(f.Pos()).LineCount(); n > 600 {
			t.Errorf("%s has %d lines (at most 600)", path, n)
		}
		containers := containerBodies(f)
		ast.Inspect(f, func(n ast.Node) bool {
			var body *ast.BlockStmt
			switch n := n.(type) {
			case *ast.FuncDecl:
				body = n.Body
			case *ast.FuncLit:
				if !containers[n] {
					body = n.Body
				}
			}
			if body != nil {
				from, to := fset.Position(body.Lbrace).Line, fset.Position(body.Rbrace).Line
				if to-from-1 > 80 {
					t.Errorf("%s:%d: a function of %d lines (at most 80)", path, from, to-from-1)
				}
			}
			return true
		})
	})
}

// Labels come from the framework alone: AreaOf for areas and Req for requirement
// IDs, both checked while the spec tree is built. No area calls Ginkgo's Label or
// writes a Labels literal.
func TestLabelsOnlyThroughTheFramework(t *testing.T) {
	for _, area := range areaDirs(t) {
		walkGo(t, filepath.Join("..", area), func(path string, fset *token.FileSet, f *ast.File) {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "Label" {
						t.Errorf("%s: Label(...): use framework.AreaOf or framework.Req", fset.Position(n.Pos()))
					}
				case *ast.CompositeLit:
					if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Labels" {
						t.Errorf("%s: a Labels literal: use framework.AreaOf or framework.Req", fset.Position(n.Pos()))
					}
				}
				return true
			})
		})
	}
}

// areaDirs are the area packages: every directory of suites/ but the framework,
// the harness and this one.
func areaDirs(t *testing.T) []string {
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !slices.Contains([]string{"framework", "harness", "all"}, e.Name()) {
			out = append(out, e.Name())
		}
	}
	if len(out) < 8 {
		t.Fatalf("found only the areas %v", out)
	}
	return out
}

// importsUnder are the imports of every non-test Go file under dir.
func importsUnder(t *testing.T, dir string) map[string][]string {
	out := map[string][]string{}
	walkGo(t, dir, func(path string, _ *token.FileSet, f *ast.File) {
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[path] = append(out[path], p)
		}
	})
	return out
}

// walkGo parses every non-test Go file under dir.
func walkGo(t *testing.T, dir string, visit func(path string, fset *token.FileSet, f *ast.File)) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		visit(path, fset, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// containerBodies are the function literals passed to Ginkgo containers
// (Describe, Context, When, and an Area's Describe).
func containerBodies(f *ast.File) map[*ast.FuncLit]bool {
	out := map[*ast.FuncLit]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		name := ""
		switch fn := call.Fun.(type) {
		case *ast.Ident:
			name = fn.Name
		case *ast.SelectorExpr:
			name = fn.Sel.Name
		}
		if !slices.Contains([]string{"Describe", "Context", "When"}, name) {
			return true
		}
		for _, a := range call.Args {
			if lit, ok := a.(*ast.FuncLit); ok {
				out[lit] = true
			}
		}
		return true
	})
	return out
}
