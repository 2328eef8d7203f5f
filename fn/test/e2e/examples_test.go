package e2e

// The commands of the Markdown files, run the way they are printed: the
// examples' READMEs (examples/<name>/README.md, by the Test*Example tests),
// README.md and docs/*.md (by TestDocs). One harness runs them all:
//   - every line of a ```sh block is one command, run in order with bash from
//     the top of a scratch folder laid out like the repository (the copied
//     folders, bin/inject-mesher and bin/inject-mesher-webhook from TestMain,
//     .cache/bin's tools), so the relative paths in the commands and in the
//     examples' own files (the Kptfile's exec:, the kustomize transformer's
//     exec.path) resolve as they do for a user at the top of a clone;
//   - `make build` and `make tools` are what the test provides; another target
//     whose prerequisites are only those runs its Makefile recipe (make demo);
//   - `/tmp/` becomes `tmp/` inside the scratch folder, so `/tmp/shop` is
//     <scratch>/tmp/shop and the paths that git diff prints are the ones the
//     user sees; nothing else is rewritten;
//   - a command must exit 0, or N when its comment says `exits N`; one whose
//     comment names `.expected/FILE` (beside the Markdown file) must print
//     exactly that file (UPDATE_GOLDEN=1 rewrites it);
//   - a ```text block right after <!-- output of the command above ... -->
//     must match what the last command of the ```sh block above printed,
//     stdout then stderr, a line `...` standing for lines left out;
//   - a command a test cannot run is in a ```console block right after
//     <!-- not run by tests: REASON -->, which TestDocCommandsRunOrMarked
//     requires of every shell block that is not ```sh.

import (
	"bufio"
	"fmt"
	"github.com/inject-mesher/inject-mesher/fn/test/testutil"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Markers: the HTML comment on the line right before a fenced block.
const (
	notRunMarker = "<!-- not run by tests:"
	outputMarker = "<!-- output of the command above"
)

// shellLangs are the fence languages that show commands: sh blocks are run,
// the others must carry notRunMarker.
var shellLangs = []string{"sh", "console", "bash", "shell", "shell-session", "zsh"}

// mdBlock is one fenced block of a Markdown file.
type mdBlock struct {
	lang   string
	line   int    // of the opening fence, from 1
	body   string // the lines between the fences
	marker string // the HTML comment on the line before the fence, if any
}

// markdownBlocks returns a Markdown file's fenced blocks, in order.
func markdownBlocks(md string) []mdBlock {
	var blocks []mdBlock
	var cur *mdBlock
	var body []string
	prev := ""
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur, body = &mdBlock{lang: strings.TrimPrefix(trimmed, "```"), line: n}, nil
			if p := strings.TrimSpace(prev); strings.HasPrefix(p, "<!--") {
				cur.marker = p
			}
		case cur != nil && trimmed == "```":
			cur.body = strings.Join(body, "\n")
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
		prev = line
	}
	return blocks
}

// readmeBlocks returns the contents of the README's fenced blocks of a language.
func readmeBlocks(readme, lang string) []string {
	var out []string
	for _, b := range markdownBlocks(readme) {
		if b.lang == lang {
			out = append(out, b.body)
		}
	}
	return out
}

// readmeCommand is one command line of a README's ```sh blocks.
type readmeCommand struct {
	line   string // as printed
	expect string // the .expected/ file its output must equal, if its comment names one
	exit   int    // the exit code it must give (`# exits N`), 0 unless said
}

var (
	expectedComment = regexp.MustCompile(`\s#\s.*?(\.expected/\S+)`)
	exitComment     = regexp.MustCompile(`\s#\s.*?\bexits (\d+)`)
)

// blockCommands returns the commands of one ```sh block.
func blockCommands(body string) []readmeCommand {
	var cmds []readmeCommand
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := readmeCommand{line: line}
		if m := expectedComment.FindStringSubmatch(line); m != nil {
			c.expect = m[1]
		}
		if m := exitComment.FindStringSubmatch(line); m != nil {
			c.exit, _ = strconv.Atoi(m[1])
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// readmeCommands returns the commands of every ```sh block of a README.
func readmeCommands(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	var cmds []readmeCommand
	for _, body := range readmeBlocks(readme, "sh") {
		cmds = append(cmds, blockCommands(body)...)
	}
	if len(cmds) == 0 {
		t.Fatal("the README has no ```sh block with commands")
	}
	return cmds
}

// exampleRun is a scratch folder laid out like the top of the repository in
// which one Markdown file's commands run, and what they printed so far.
type exampleRun struct {
	name    string // examples/<name>, or the Markdown file's path from the top for docs
	docDir  string // the Markdown file's folder in the repository: .expected/ is there
	root    string // the scratch "top of the repository"
	checked map[string]string
}

// newScratchRepo lays out a scratch top of the repository with copies of the
// given folders, tmp/, and bin/ holding the binaries TestMain built.
func newScratchRepo(t *testing.T, folders ...string) string {
	t.Helper()
	requireTool(t, "bash", "bash runs the Markdown files' command lines")
	root := t.TempDir()
	for _, f := range folders {
		copyDir(t, filepath.Join(repoRoot, f), filepath.Join(root, f))
	}
	for _, d := range []string{"bin", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, bin := range map[string]string{"inject-mesher": binPath, "inject-mesher-webhook": webhookBinPath} {
		if err := os.Symlink(bin, filepath.Join(root, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// linkCacheTool links .cache/bin/<name>, which make tools or make helm
// installed, into the scratch folder.
func linkCacheTool(t *testing.T, root, name string) {
	t.Helper()
	tool := filepath.Join(repoRoot, ".cache", "bin", name)
	if _, err := os.Stat(tool); err != nil {
		missingTool(t, fmt.Sprintf("%s is missing at %s: run `make tools` (kustomize) or `make helm` (helm3, helm4)", name, tool))
	}
	link := filepath.Join(root, ".cache", "bin", name)
	if _, err := os.Lstat(link); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tool, link); err != nil {
		t.Fatal(err)
	}
}

func newExampleRun(t *testing.T, name string, needKustomize bool) *exampleRun {
	t.Helper()
	root := newScratchRepo(t, filepath.Join("examples", name))
	if needKustomize {
		linkCacheTool(t, root, "kustomize")
	}
	return &exampleRun{name: name, docDir: filepath.Join(repoRoot, "examples", name), root: root, checked: map[string]string{}}
}

// docFolders are what the commands of README.md and docs/ read.
var docFolders = []string{"examples", "config", "charts", filepath.Join("testdata", "golden")}

// newDocRun is the scratch repository for the commands of README.md or a
// page of docs/ (doc: its path from the top). Helm's homes are inside it and
// KUBECONFIG points at nothing, so no command can reach a cluster.
func newDocRun(t *testing.T, doc string) *exampleRun {
	t.Helper()
	root := newScratchRepo(t, docFolders...)
	helmHome(t, filepath.Join(root, "tmp", "helm"))
	return &exampleRun{name: doc, docDir: filepath.Dir(filepath.Join(repoRoot, doc)), root: root, checked: map[string]string{}}
}

func (e *exampleRun) dir() string { return e.docDir }

// mapTmp points the README's /tmp/ at the scratch folder's tmp/.
func mapTmp(s string) string { return strings.ReplaceAll(s, "/tmp/", "tmp/") }

var (
	commandSeparators = regexp.MustCompile(`\|\||&&|[|;()]`)
	cacheTool         = regexp.MustCompile(`(?:^|[\s=:"'])\.cache/bin/([A-Za-z0-9_-]+)`)
)

// requireTools makes sure the tools a command line runs are there: tools
// from the system's PATH by name, .cache/bin's by path (linked into place).
func (e *exampleRun) requireTools(t *testing.T, line string) {
	t.Helper()
	for _, m := range cacheTool.FindAllStringSubmatch(line, -1) {
		linkCacheTool(t, e.root, m[1])
	}
	for _, segment := range commandSeparators.Split(line, -1) {
		fields := strings.Fields(segment)
		for len(fields) > 0 && strings.Contains(fields[0], "=") { // VAR=value before the command
			fields = fields[1:]
		}
		if len(fields) == 0 {
			continue
		}
		switch name := fields[0]; name {
		case "kpt", "git", "kubectl", "curl", "openssl", "podman":
			requireTool(t, name, "a command of "+e.name+" runs it")
		}
	}
}

// makeRecipe returns a Makefile target's prerequisites and recipe lines.
func makeRecipe(t *testing.T, target string) (prereqs, recipe []string) {
	t.Helper()
	lines := strings.Split(readFile(t, filepath.Join(repoRoot, "Makefile")), "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, target+":")
		if !ok || strings.HasPrefix(rest, "=") {
			continue
		}
		for _, r := range lines[i+1:] {
			body, ok := strings.CutPrefix(r, "\t")
			if !ok {
				break
			}
			recipe = append(recipe, strings.TrimLeft(body, "@-"))
		}
		return strings.Fields(rest), recipe
	}
	t.Fatalf("the Makefile has no target %s", target)
	return nil, nil
}

// runMake stands for `make TARGET...`: build and tools are what the scratch
// folder already has; another target whose prerequisites are only those runs
// its recipe lines, in the scratch folder.
func (e *exampleRun) runMake(t *testing.T, line, targets string) result {
	t.Helper()
	var all result
	for _, target := range strings.Fields(targets) {
		if target == "build" || target == "tools" {
			t.Logf("$ make %s  # provided by the test: bin/ from TestMain, .cache/bin linked", target)
			if target == "tools" {
				linkCacheTool(t, e.root, "kustomize")
			}
			continue
		}
		prereqs, recipe := makeRecipe(t, target)
		for _, p := range prereqs {
			if p != "build" && p != "tools" {
				t.Fatalf("`%s`: target %s needs %s, and the test provides only `make build` and `make tools`", line, target, p)
			}
		}
		for _, r := range recipe {
			if strings.Contains(r, "$") {
				t.Fatalf("`%s`: the recipe line %q of %s uses make variables, which the test does not expand", line, r, target)
			}
			got := e.exec(t, r)
			all.stdout += got.stdout
			all.stderr += got.stderr
			if all.code = got.code; got.code != 0 {
				return all
			}
		}
	}
	return all
}

// exec runs one command line with bash in the scratch folder.
func (e *exampleRun) exec(t *testing.T, line string) result {
	t.Helper()
	// The user's git configuration (colour, prefixes) must not shape the diff.
	env := []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "NO_COLOR=1"}
	return runEnv(t, e.root, nil, env, "bash", "-c", line)
}

// run runs one README command and checks its exit code, and its output
// against .expected/ when its comment names a file there.
func (e *exampleRun) run(t *testing.T, c readmeCommand) result {
	t.Helper()
	line := mapTmp(c.line)
	command, _, _ := strings.Cut(line, " # ")
	if strings.Contains(command, "/tmp") || strings.Contains(command, "..") || strings.Contains(command, "~") {
		t.Fatalf("command %q reaches outside the scratch folder after mapping: %q", c.line, line)
	}
	e.requireTools(t, line)
	var r result
	if targets, ok := strings.CutPrefix(c.line, "make "); ok {
		r = e.runMake(t, c.line, targets)
	} else {
		r = e.exec(t, line)
	}
	// git diff exits 1 when there are differences: that is its success here.
	gitDiff := c.expect != "" && strings.HasPrefix(c.line, "git diff") && r.code == 1
	if r.code != c.exit && !gitDiff {
		t.Fatalf("command %q exited %d, want %d:\n%s%s", c.line, r.code, c.exit, r.stdout, r.stderr)
	}
	if c.expect == "" {
		return r
	}
	if prev, ok := e.checked[c.expect]; ok {
		// Named again (after a second render): the same output as the first time.
		if r.stdout != prev {
			t.Errorf("command %q printed something else than the first time (%s):\n%s", c.line, c.expect, testutil.Unified8(prev, r.stdout))
		}
		return r
	}
	e.checked[c.expect] = r.stdout
	checkGolden(t, filepath.Join(e.dir(), c.expect), r.stdout)
	return r
}

// checkAllExpected: every file in .expected/ is one a README command prints.
func (e *exampleRun) checkAllExpected(t *testing.T) {
	t.Helper()
	for name := range snapshot(t, filepath.Join(e.dir(), ".expected")) {
		if _, ok := e.checked[".expected/"+name]; !ok {
			t.Errorf("examples/%s/.expected/%s is compared with no command of the README", e.name, name)
		}
	}
}

// matchExcerpt says how an excerpt differs from the output it was cut from:
// its lines, in order and each next to its neighbours, but for `...` lines,
// which stand for any number of lines left out; without a leading (trailing)
// `...` the excerpt starts (ends) where the output does.
func matchExcerpt(excerpt, output string) error {
	want := strings.Split(strings.TrimRight(excerpt, "\n"), "\n")
	got := strings.Split(strings.TrimRight(output, "\n"), "\n")
	var chunks [][]string
	var cur []string
	for _, l := range want {
		if strings.TrimSpace(l) == "..." {
			chunks, cur = append(chunks, cur), nil
			continue
		}
		cur = append(cur, l)
	}
	chunks = append(chunks, cur)
	at := 0
	for i, chunk := range chunks {
		if len(chunk) == 0 {
			continue
		}
		first, last := i == 0, i == len(chunks)-1
		found := -1
		for j := at; j+len(chunk) <= len(got); j++ {
			if first && j != 0 {
				break
			}
			if slices.Equal(got[j:j+len(chunk)], chunk) && (!last || j+len(chunk) == len(got)) {
				found = j
				break
			}
		}
		if found < 0 {
			switch {
			case first:
				return fmt.Errorf("the output does not start with:\n%s", strings.Join(chunk, "\n"))
			case last:
				return fmt.Errorf("the output does not end with:\n%s", strings.Join(chunk, "\n"))
			}
			return fmt.Errorf("after line %d the output has no lines:\n%s", at, strings.Join(chunk, "\n"))
		}
		at = found + len(chunk)
	}
	return nil
}

// An excerpt shown after a command matches the output it was cut from, and
// only that: the rule TestDocs applies to every <!-- output ... --> block.
func TestDocExcerpt(t *testing.T) {
	const output = "a\nb\nc\nd\ne\n"
	for _, tc := range []struct {
		name, excerpt string
		match         bool
	}{
		{"the whole output", "a\nb\nc\nd\ne", true},
		{"lines left out in the middle", "a\nb\n...\ne", true},
		{"lines left out at both ends", "...\nc\nd\n...", true},
		{"several elisions", "a\n...\nc\n...\ne", true},
		{"a line the output does not have", "a\nb\nx\n...", false},
		{"lines out of order", "...\nd\n...\nb\n...", false},
		{"neighbours that are not next to each other", "...\nb\nd\n...", false},
		{"not where the output starts", "b\nc\n...", false},
		{"not where the output ends", "...\nc\nd", false},
		{"longer than the output", "a\nb\nc\nd\ne\nf", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := matchExcerpt(tc.excerpt, output)
			if got := err == nil; got != tc.match {
				t.Errorf("matchExcerpt(%q) matches: %v, want %v (%v)", tc.excerpt, got, tc.match, err)
			}
		})
	}
}

// docFiles are README.md and the pages of docs/, from the top of the repository.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	files := []string{"README.md"}
	for _, p := range pages {
		files = append(files, filepath.Join("docs", filepath.Base(p)))
	}
	return files
}

// TestDocs runs the ```sh blocks of README.md and docs/*.md as printed, one
// subtest per block, in order in one scratch folder per file, and checks the
// output shown after them.
func TestDocs(t *testing.T) {
	for _, doc := range docFiles(t) {
		t.Run(doc, func(t *testing.T) {
			blocks := markdownBlocks(readFile(t, filepath.Join(repoRoot, doc)))
			if !slices.ContainsFunc(blocks, func(b mdBlock) bool { return b.lang == "sh" }) {
				t.Skipf("%s shows no command a test runs", doc)
			}
			e := newDocRun(t, doc)
			var last *result // what the last command of the last ```sh block printed
			for _, b := range blocks {
				switch {
				case b.lang == "sh":
					last = nil
					t.Run(fmt.Sprintf("line %d", b.line), func(t *testing.T) {
						cmds := blockCommands(b.body)
						if len(cmds) == 0 {
							t.Fatal("a ```sh block without commands")
						}
						var r result
						for _, c := range cmds {
							r = e.run(t, c)
						}
						last = &r
					})
				case b.lang == "text" && strings.HasPrefix(b.marker, outputMarker):
					t.Run(fmt.Sprintf("line %d output", b.line), func(t *testing.T) {
						if last == nil {
							t.Skip("the ```sh block above did not run to its end")
						}
						if err := matchExcerpt(b.body, last.stdout+last.stderr); err != nil {
							t.Errorf("%s line %d: the output shown is not what the command above printed: %v\nIt printed:\n%s%s", doc, b.line, err, last.stdout, last.stderr)
						}
					})
				}
			}
		})
	}
}

// markerProblems lists the blocks of a Markdown file that break the rule:
// commands are in a ```sh block, which a test runs, or in a ```console block
// right after <!-- not run by tests: REASON -->. Output checks
// (<!-- output ... -->) are made in README.md and docs/ only (inDocs).
func markerProblems(md string, inDocs bool) []string {
	var problems []string
	for _, b := range markdownBlocks(md) {
		shell := slices.Contains(shellLangs, b.lang)
		reason, isNotRun := strings.CutPrefix(b.marker, notRunMarker)
		reason = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(reason), "-->"))
		switch {
		case shell && b.lang != "sh" && !isNotRun:
			problems = append(problems, fmt.Sprintf("line %d: a ```%s block of commands without %s REASON --> on the line before: run it in a ```sh block, or say why a test cannot", b.line, b.lang, notRunMarker))
		case isNotRun && b.lang != "console":
			problems = append(problems, fmt.Sprintf("line %d: %s marks a ```%s block; commands no test runs go in a ```console block", b.line, notRunMarker, b.lang))
		case isNotRun && reason == "":
			problems = append(problems, fmt.Sprintf("line %d: %s without a reason", b.line, notRunMarker))
		case strings.HasPrefix(b.marker, outputMarker) && (b.lang != "text" || !inDocs):
			problems = append(problems, fmt.Sprintf("line %d: %s is checked before a ```text block of README.md or docs/ only (examples compare with .expected/)", b.line, outputMarker))
		}
	}
	return problems
}

func TestDocMarkers(t *testing.T) {
	for _, tc := range []struct {
		name, md string
		ok       bool
	}{
		{"a block a test runs", "```sh\nbin/inject-mesher version\n```\n", true},
		{"a block no test runs, with its reason", "<!-- not run by tests: needs a cluster -->\n```console\nkubectl apply -f x.yaml\n```\n", true},
		{"output shown and checked", "```sh\nmake demo\n```\n<!-- output of the command above -->\n```text\nx\n```\n", true},
		{"yaml and text are not commands", "```yaml\na: 1\n```\n```text\nx\n```\n", true},
		{"console without the marker", "```console\nkubectl apply -f x.yaml\n```\n", false},
		{"bash without the marker", "```bash\nmake test\n```\n", false},
		{"the marker a blank line away", "<!-- not run by tests: needs a cluster -->\n\n```console\nkubectl get pods\n```\n", false},
		{"the marker without a reason", "<!-- not run by tests: -->\n```console\nmake test\n```\n", false},
		{"the marker on a block a test runs", "<!-- not run by tests: slow -->\n```sh\nmake demo\n```\n", false},
		{"an output check on a yaml block", "<!-- output of the command above -->\n```yaml\na: 1\n```\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := markerProblems(tc.md, true)
			if ok := len(problems) == 0; ok != tc.ok {
				t.Errorf("passes: %v, want %v: %v", ok, tc.ok, problems)
			}
		})
	}
	t.Run("no output check in an example's README", func(t *testing.T) {
		if p := markerProblems("```sh\nmake demo\n```\n<!-- output of the command above -->\n```text\nx\n```\n", false); len(p) == 0 {
			t.Error("an output check in an example's README passes, but no test makes it")
		}
	})
}

// TestDocCommandsRunOrMarked: every command shown in README.md, docs/*.md and
// examples/*/README.md is run by a test (a ```sh block) or says why not.
func TestDocCommandsRunOrMarked(t *testing.T) {
	files := docFiles(t)
	examples, err := filepath.Glob(filepath.Join(repoRoot, "examples", "*", "README.md"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples/*/README.md: %v", err)
	}
	for _, ex := range examples {
		rel, _ := filepath.Rel(repoRoot, ex)
		files = append(files, rel)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			inDocs := !strings.HasPrefix(f, "examples"+string(filepath.Separator))
			for _, p := range markerProblems(readFile(t, filepath.Join(repoRoot, f)), inDocs) {
				t.Error(p)
			}
		})
	}
}

// ---------------------------------------------------------------------------

func TestKptExample(t *testing.T) {
	requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	requireTool(t, "git", "the README shows the change with git diff --no-index")
	e := newExampleRun(t, "kpt", false)
	readme := readFile(t, filepath.Join(e.dir(), "README.md"))
	cmds := readmeCommands(t, readme)

	// The package the README renders: the argument of its kpt fn render.
	var pkg string
	var renders []result
	var resultsDirs []string
	var beforeSecond map[string]string
	for _, c := range cmds {
		render := strings.HasPrefix(c.line, "kpt fn render ")
		if render {
			f := strings.Fields(mapTmp(c.line))
			if pkg == "" {
				pkg = filepath.Join(e.root, f[3])
			} else if filepath.Join(e.root, f[3]) != pkg {
				t.Fatalf("the README renders %s, then %s", pkg, f[3])
			}
			if i := slices.Index(f, "--results-dir"); i > 0 && i+1 < len(f) {
				resultsDirs = append(resultsDirs, filepath.Join(e.root, f[i+1]))
			} else {
				t.Fatalf("README command %q has no --results-dir", c.line)
			}
			if len(renders) == 1 {
				beforeSecond = snapshot(t, pkg)
			}
		}
		r := e.run(t, c)
		if render {
			renders = append(renders, r)
			if len(renders) == 2 {
				if d := diffSnapshots(beforeSecond, snapshot(t, pkg)); d != "" {
					t.Errorf("the second render changed the package:\n%s", d)
				}
			}
		}
	}
	if len(renders) != 2 {
		t.Fatalf("the README renders %d times, want 2 (the second shows that nothing changes)", len(renders))
	}
	e.checkAllExpected(t)

	// What kpt prints is what the README shows, up to the time it took.
	shown := readmeBlocks(readme, "text")
	if len(shown) == 0 {
		t.Fatal("the README shows no kpt output (a ```text block)")
	}
	if want, got := normalizeKptOutput(shown[0]), normalizeKptOutput(renders[0].stderr); got != want {
		t.Errorf("kpt's output differs from the README's:\n%s", testutil.Unified8(want, got))
	}
	// The second render has nothing to report.
	if strings.Contains(renders[1].stderr, "[info]") || strings.Contains(renders[1].stderr, "[warning]") {
		t.Errorf("the second render reported something:\n%s", renders[1].stderr)
	}
	if second := readFile(t, filepath.Join(resultsDirs[1], "results.yaml")); strings.Contains(second, "results:") {
		t.Errorf("the second render's results file has results:\n%s", second)
	}

	// What the expected files say, checked on the rendered package too, so a
	// wrongly regenerated diff.patch cannot pass unnoticed.
	orig := snapshot(t, filepath.Join(e.root, "examples", "kpt"))
	out := snapshot(t, pkg)
	for _, f := range []string{"Kptfile", "mesher-injection.yaml", "namespace.yaml", "redis.yaml"} {
		if out[f] != orig[f] {
			t.Errorf("%s changed:\n%s", f, testutil.Unified8(orig[f], out[f]))
		}
	}
	if strings.Contains(out["redis.yaml"], "sidecar-mesher") {
		t.Errorf("redis says inject: \"no\" but was injected")
	}
	cartDocs := parseDocs(t, out["cart.yaml"])
	env := checkInjected(t, findDoc(t, cartDocs, "Deployment", "cart"), "servicecomb/mesher-sidecar:1.6.3", "sc")
	wantEnv(t, env, map[string]string{"SERVICE_NAME": "cart", "VERSION": "1.2", "APP_ID": "shop",
		"SERVICE_PORTS": "rest:8080", "CSE_REGISTRY_ADDR": "http://service-center.servicecomb:30100"})
	if in, got := splitDocs(orig["cart.yaml"]), splitDocs(out["cart.yaml"]); len(got) != 2 || in[1] != got[1] {
		t.Errorf("the Service in cart.yaml changed")
	}
	cron := findDoc(t, parseDocs(t, out["cleanup.yaml"]), "CronJob", "cart-cleanup")
	wantEnv(t, checkInjected(t, cron, "servicecomb/mesher-sidecar:1.6.3", "sc"), map[string]string{"SERVICE_NAME": "cart-cleanup", "APP_ID": "shop"})
	inits := list(get(podTemplate(t, cron), "spec", "initContainers"))
	if len(inits) == 0 || str(inits[0], "name") != "sidecar-mesher" || str(inits[0], "restartPolicy") != "Always" {
		t.Errorf("the CronJob's sidecar is not a native sidecar (first init container, restartPolicy: Always): %v", inits)
	}
	cm := findDoc(t, parseDocs(t, out["mesher-config-sc.shop.yaml"]), "ConfigMap", "mesher-config-sc")
	if ns := str(cm, "metadata", "namespace"); ns != "shop" {
		t.Errorf("the generated ConfigMap is in namespace %q, want shop", ns)
	}
}

var kptDuration = regexp.MustCompile(`(?m)^(\[(?:PASS|FAIL)\] .*) in \S+$`)

// normalizeKptOutput drops what varies between runs of the README's
// commands: the time a function took, trailing blanks, and the scratch
// folder's tmp/ standing in for /tmp/.
func normalizeKptOutput(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " \t")
		l = strings.ReplaceAll(l, " /tmp/", " tmp/")
		lines[i] = kptDuration.ReplaceAllString(l, "$1 in (time)")
	}
	return strings.Join(lines, "\n")
}

func TestKustomizeExample(t *testing.T) {
	e := newExampleRun(t, "kustomize", true)
	readme := readFile(t, filepath.Join(e.dir(), "README.md"))
	cmds := readmeCommands(t, readme)
	var build result
	var buildCmd readmeCommand
	for _, c := range cmds {
		r := e.run(t, c)
		if strings.HasPrefix(c.line, ".cache/bin/kustomize build") {
			build, buildCmd = r, c
		}
	}
	if buildCmd.line == "" || buildCmd.expect != ".expected/output.yaml" {
		t.Fatalf("the README has no kustomize build command printing .expected/output.yaml")
	}
	e.checkAllExpected(t)

	docs := parseDocs(t, build.stdout)
	wantOrder(t, docs, "ConfigMap/mesher-config-sc", "Service/prod-catalog", "Deployment/prod-catalog")
	dep := findDoc(t, docs, "Deployment", "prod-catalog")
	if ns := str(dep, "metadata", "namespace"); ns != "shop-prod" {
		t.Errorf("Deployment in namespace %q, want shop-prod", ns)
	}
	env := checkInjected(t, dep, "servicecomb/mesher-sidecar:1.6.3", "sc")
	// SERVICE_NAME from the app label: the name prefix does not reach the registry.
	wantEnv(t, env, map[string]string{"SERVICE_NAME": "catalog", "VERSION": "3.1", "APP_ID": "shop", "SERVICE_PORTS": "rest:8080,grpc:9090"})
	wantSidecarFields(t, sidecarOf(t, dep), "overlay/mesher-injection.yaml", map[string]string{
		"resources.requests.cpu": "50m", "resources.requests.memory": "64Mi",
		"resources.limits.cpu": "250m", "resources.limits.memory": "192Mi",
	})
	if got := str(podTemplate(t, dep), "metadata", "annotations", "prometheus.io/scrape"); got != "true" {
		t.Errorf("the pod template's prometheus.io/scrape annotation is %q, want it kept", got)
	}
	// Built-in transformers ran first: the generated ConfigMap is in the
	// overlay's namespace, without the prefix, under the name the volume uses.
	cm := findDoc(t, docs, "ConfigMap", "mesher-config-sc")
	if ns := str(cm, "metadata", "namespace"); ns != "shop-prod" {
		t.Errorf("generated ConfigMap in namespace %q, want shop-prod", ns)
	}
	if strings.Contains(mustYAML(t, findDoc(t, docs, "Service", "prod-catalog")), "mesher") {
		t.Errorf("the Service was changed by the function")
	}
	if strings.Contains(build.stdout, "MesherInjection") {
		t.Errorf("the transformer's config was emitted as a resource")
	}

	t.Run("second build is the same", func(t *testing.T) {
		if r := e.run(t, buildCmd); r.stdout != build.stdout {
			t.Errorf("a second build differs")
		}
	})

	t.Run("kubectl kustomize silently skips the function, as the README says", func(t *testing.T) {
		kubectl := requireTool(t, "kubectl", "kubectl is expected at /usr/bin/kubectl")
		r := run(t, e.root, nil, kubectl, "kustomize", "--enable-alpha-plugins", "examples/kustomize/overlay")
		if r.code != 0 {
			t.Fatalf("kubectl kustomize failed (exit %d):\n%s", r.code, r.stderr)
		}
		findDoc(t, parseDocs(t, r.stdout), "Deployment", "prod-catalog")
		if strings.Contains(r.stdout, "sidecar-mesher") {
			t.Errorf("kubectl kustomize ran the exec function: the README's warning is out of date")
		}
		if r := run(t, e.root, nil, kubectl, "kustomize", "--enable-alpha-plugins", "--enable-exec", "examples/kustomize/overlay"); r.code == 0 {
			t.Errorf("kubectl kustomize accepts --enable-exec now: the README's warning is out of date")
		}
	})

	t.Run("kubectl apply --dry-run=client accepts the output", func(t *testing.T) {
		kubectlDryRun(t, build.stdout, "configmap/mesher-config-sc", "service/prod-catalog", "deployment.apps/prod-catalog")
	})
}

// The webhook example: the webhook on loopback with a throwaway certificate,
// one AdmissionReview sent over TLS, the answer as the README prints it.
func TestWebhookExample(t *testing.T) {
	requireTool(t, "openssl", "the example makes a throwaway certificate with it")
	requireTool(t, "curl", "the example sends the AdmissionReview with it")
	e := newExampleRun(t, "webhook", false)
	for _, c := range readmeCommands(t, readFile(t, filepath.Join(e.dir(), "README.md"))) {
		e.run(t, c)
	}
	e.checkAllExpected(t)
	if got := e.checked[".expected/response.txt"]; !strings.Contains(got, `"op":"add","path":"/spec/containers/-"`) || !strings.Contains(got, `{"name":"SERVICE_NAME","value":"checkout"}`) {
		t.Errorf("the example's Pod was not injected as its README says:\n%s", got)
	}
}

// The manual example: its README's commands, from the top of the repository.
func TestManualExample(t *testing.T) {
	e := newExampleRun(t, "manual", false)
	for _, c := range readmeCommands(t, readFile(t, filepath.Join(e.dir(), "README.md"))) {
		e.run(t, c)
	}
	e.checkAllExpected(t)
	if got := e.checked[".expected/rerun-report.txt"]; strings.Contains(got, " injected") || !strings.Contains(got, "deployment/web unchanged") {
		t.Errorf("the second run injected again:\n%s", got)
	}
}

// The templates example: lint, list and render, then inject through the
// command line, kpt and kustomize, which must agree on every workload.
func TestTemplatesExample(t *testing.T) {
	requireTool(t, "kpt", "kpt 1.0.0-beta.56 is expected at /usr/bin/kpt")
	e := newExampleRun(t, "templates", true)
	byLine := map[string]result{}
	for _, c := range readmeCommands(t, readFile(t, filepath.Join(e.dir(), "README.md"))) {
		r := e.run(t, c)
		byLine[strings.Fields(c.line)[0]+" "+strings.Fields(c.line)[1]] = r
	}
	e.checkAllExpected(t)
	if got := byLine["bin/inject-mesher templates"].stderr; !strings.Contains(got, "no problems") && !strings.Contains(e.checked[".expected/list.txt"], "secrets-agent") {
		t.Errorf("lint or list did not see the templates")
	}
	cli := parseDocs(t, e.checked[".expected/output.yaml"])
	kpt := parseDocs(t, readFile(t, filepath.Join(e.root, "tmp", "templates-kpt.yaml")))
	kust := parseDocs(t, e.checked[".expected/kustomize.yaml"])

	t.Run("each workload has mesher and the sidecar it selects", func(t *testing.T) {
		for name, want := range map[string][]string{
			"Deployment/web": {"log-collector"}, "Deployment/payments": {"vault-agent"},
			"Deployment/catalog": {"config-sync"}, "CronJob/nightly-report": {"log-collector"},
		} {
			kind, n, _ := strings.Cut(name, "/")
			obj := findDoc(t, cli, kind, n)
			sidecarOf(t, obj)
			if !strings.Contains(mustYAML(t, podTemplate(t, obj)), "name: "+want[0]) {
				t.Errorf("%s has no %s container", name, want[0])
			}
		}
	})
	t.Run("the secrets agent starts first, before the app's own init container", func(t *testing.T) {
		// mesher is a regular container in a Deployment: not among them.
		spec, _ := podTemplate(t, findDoc(t, cli, "Deployment", "payments"))["spec"].(map[string]any)
		var names []string
		for _, c := range spec["initContainers"].([]any) {
			names = append(names, c.(map[string]any)["name"].(string))
		}
		if strings.Join(names, ",") != "vault-agent,migrate" {
			t.Errorf("init containers %v, want vault-agent, migrate", names)
		}
	})
	t.Run("kpt and kustomize write what the command line writes", func(t *testing.T) {
		for _, obj := range cli {
			kind, name := obj["kind"].(string), str(obj, "metadata", "name")
			for tool, docs := range map[string][]map[string]any{"kpt": kpt, "kustomize": kust} {
				got := findDoc(t, docs, kind, name)
				if kind != "ConfigMap" && !reflect.DeepEqual(podTemplate(t, got), podTemplate(t, obj)) {
					t.Errorf("%s: %s/%s differs from the command line's:\n%s", tool, kind, name, mustYAML(t, podTemplate(t, got)))
				}
			}
		}
		if strings.Contains(e.checked[".expected/kustomize.yaml"], "SidecarTemplate") {
			t.Errorf("kustomize emitted the templates, which are local config")
		}
		if n := strings.Count(readFile(t, filepath.Join(e.root, "tmp", "templates-kpt.yaml")), "kind: SidecarTemplate"); n != 3 {
			t.Errorf("kpt passed %d templates through, want the package's 3", n)
		}
	})
	// kubectl's client-side validation knows no native sidecars (an init
	// container's restartPolicy): make e2e-cluster sends the output to a real
	// API server with --dry-run=server instead.
}
