package spec

import (
	"os"
	"testing"
)

// The manual example's README command, run as printed: its stdout and stderr
// are the files in .expected/, and running it on its own output is a no-op.
func TestManualExample(t *testing.T) {
	t.Chdir("../../examples/manual")
	code, stdout, stderr := runCLI(nil, "app.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	check(t, ".expected/output.yaml", stdout)
	check(t, ".expected/report.txt", stderr)
	again := t.TempDir() + "/injected.yaml"
	if err := os.WriteFile(again, stdout, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out2, _ := runCLI(nil, again); code != 0 || string(out2) != string(stdout) {
		t.Errorf("second run changed the output (exit %d):\n%s", code, lineDiff(stdout, out2))
	}
}
