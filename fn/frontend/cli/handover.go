package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// AuditBinary audits clusters for the function's binary: it links the
// Kubernetes client, which would double the function's size and slow every
// render's start. It is the same command line with a ClusterAuditor.
const AuditBinary = "inject-mesher-audit"

// handOver runs the audit in AuditBinary, with this run's arguments and
// streams, and ends with its exit code.
func (o *auditOptions) handOver() error {
	bin, err := auditBinary()
	if err != nil {
		return o.failAudit(err.Error())
	}
	cmd := exec.Command(bin, o.args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.In, o.Out, o.ErrOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exitCode(exit.ExitCode())
	case err != nil:
		return o.failAudit(fmt.Sprintf("%s: %v", bin, err))
	}
	return nil
}

// auditBinary is AuditBinary beside this binary, else on PATH.
func auditBinary() (string, error) {
	if self, err := os.Executable(); err == nil {
		if self, err = filepath.EvalSymlinks(self); err == nil {
			beside := filepath.Join(filepath.Dir(self), AuditBinary)
			if _, err := os.Stat(beside); err == nil {
				return beside, nil
			}
		}
	}
	if bin, err := exec.LookPath(AuditBinary); err == nil {
		return bin, nil
	}
	return "", fmt.Errorf("auditing a cluster needs %s, beside inject-mesher or on PATH: it is the command line with the Kubernetes client, which the function leaves out (make build builds both; the release ships both); or give manifests to audit", AuditBinary)
}
