package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/audit"
	"github.com/inject-mesher/inject-mesher/fn/engine"
)

type auditOptions struct {
	*injectOptions
	output    string
	threshold string
	suppress  []string
	// sups are suppress parsed (by validate).
	sups []audit.Suppression
	// The cluster's, as kubectl's flags: with no files the audit reads it.
	kubeconfig, kubeContext, namespace, selector string
	allNamespaces                                bool
	cluster                                      audit.ClusterAuditor
	args                                         []string
}

func newAuditCmd(p Program, streams IOStreams) *cobra.Command {
	o := &auditOptions{injectOptions: newInjectOptions(p, streams), cluster: p.AuditCluster, args: p.args}
	cmd := &cobra.Command{
		Use:   "audit [FILE|DIR|-...]",
		Short: "Find the workloads that miss their sidecar, run an outdated one, or are annotated in a way that does nothing",
		Long: `Judge manifests, or with no files the Pods of the cluster, against what
injection would give them now, with the same config, templates and flags as
inject. In a cluster the config is the webhook's install's when one is
found (--config overrides it), its SidecarTemplates are loaded, and Pods are
grouped under their workloads (-n NAMESPACE, or -A for all; -l selects).
Each finding has a stable code
(MissingSidecar, OutdatedSidecar, UnknownTemplate, InvalidAnnotation,
NamespaceNotEnabled, ConfigMapMissing, SkippedPod, InjectedByOther,
InjectionFails), a severity, the resource and what to do. Nothing is written
but the findings. The exit code is 79 when a finding is at or over
--failure-threshold, 0 when none is, 1 when the audit itself failed, 2 for
a mistake on the command line.`,
		Example: `  inject-mesher audit k8s/
  helm template ./chart | inject-mesher audit --config mesher-injection.yaml -o json -
  inject-mesher audit -A
  inject-mesher audit -n shop -l app=web --failure-threshold error`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(cmd, args); err != nil {
				return err
			}
			if len(args) == 0 {
				return o.runCluster(cmd.Context())
			}
			return o.run(args)
		},
	}
	o.addFlags(cmd)
	// inject's report flags say nothing here: the findings are the report.
	for _, f := range []string{"report", "quiet"} {
		_ = cmd.Flags().MarkHidden(f)
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: table (the default), json, yaml, or policyreport (wgpolicyk8s.io/v1alpha2 PolicyReports, one per namespace)")
	cmd.Flags().StringArrayVar(&o.suppress, "suppress", nil, "drop findings: CODE=Kind/name.namespace, each part a glob (repeatable); an object's sidecar.mesher.io/audit-suppress annotation lists codes too")
	cmd.Flags().StringVar(&o.threshold, "failure-threshold", string(engine.Warning), "the least severity that makes the exit code 79: info, warning or error")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "with no files: the kubeconfig of the cluster to audit ($KUBECONFIG or ~/.kube/config when not given)")
	cmd.Flags().StringVar(&o.kubeContext, "context", "", "with no files: the kubeconfig context to use (its current one when not given)")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "with no files: the namespace whose Pods to audit (the context's when not given)")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "with no files: audit the Pods of every namespace")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "with no files: audit only the Pods this label selector matches (e.g. app=web)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml", "policyreport"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("failure-threshold", cobra.FixedCompletions([]string{"info", "warning", "error"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *auditOptions) validate(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		for _, f := range clusterFlags {
			if cmd.Flags().Changed(f) {
				return fmt.Errorf("--%s chooses what to audit in a cluster: give it no files, or leave it out", f)
			}
		}
	}
	if o.allNamespaces && o.namespace != "" {
		return errors.New("--namespace and --all-namespaces cannot both be given")
	}
	switch o.output {
	case "", "table", "json", "yaml", "policyreport":
	default:
		return fmt.Errorf("invalid argument %q for \"-o, --output\" flag: want table, json, yaml or policyreport", o.output)
	}
	for _, s := range o.suppress {
		sup, err := audit.ParseSuppression(s)
		if err != nil {
			return fmt.Errorf("invalid argument for \"--suppress\" flag: %v", err)
		}
		o.sups = append(o.sups, sup)
	}
	if _, err := audit.ParseThreshold(o.threshold); err != nil {
		return fmt.Errorf("invalid argument %q for \"--failure-threshold\" flag: want info, warning or error", o.threshold)
	}
	return nil
}

// auditReport is what -o json|yaml writes: the findings, and per
// namespace how many Pods or workloads need a restart.
type auditReport struct {
	Findings     []audit.Finding `json:"findings"`
	NeedsRestart map[string]int  `json:"needsRestart"`
}

func (o *auditOptions) run(paths []string) error {
	cfg, err := loadConfig(o.configFile, o.sets)
	if err != nil {
		return o.failAudit("config: " + err.Error())
	}
	inputs, err := readPaths(paths, o.recursive, o.In)
	if err != nil {
		return o.failAudit(err.Error())
	}
	fromFiles, err := readTemplates(o.templates)
	if err != nil {
		return o.failAudit(err.Error())
	}
	src := newDocSource(inputs)
	var objs []*yaml.Node
	scope := engine.Scope{Templates: fromFiles}
	for i := 0; i < src.Len(); i++ {
		node, err := src.Parse(i)
		if err == nil && node != nil {
			file := src.docs[i].file
			err = scope.Add(node, func() string { return file })
		}
		if err != nil {
			return o.failAudit(fmt.Sprintf("%s: %v", src.docs[i].file, err))
		}
		if node != nil {
			objs = append(objs, node)
		}
	}
	inj, err := engine.Build(cfg, scope.Labelled, scope.Templates...)
	if err != nil {
		return o.failAudit(err.Error())
	}
	return o.finish(audit.Manifests(inj, objs))
}

// finish drops the suppressed findings, writes the rest and says by the
// exit code whether they reach the threshold.
func (o *auditOptions) finish(findings []audit.Finding) error {
	rep := auditReport{Findings: audit.Suppress(findings, o.sups), NeedsRestart: map[string]int{}}
	if rep.Findings == nil {
		rep.Findings = []audit.Finding{}
	}
	for _, f := range rep.Findings {
		if f.Code == audit.OutdatedSidecar {
			rep.NeedsRestart[f.Resource.Namespace] += f.Count
		}
	}
	if err := o.print(rep); err != nil {
		return o.failAudit("writing the findings: " + err.Error())
	}
	if audit.Fails(rep.Findings, engine.Severity(o.threshold)) {
		return exitCode(audit.ExitFindings)
	}
	return nil
}

// clusterFlags choose the cluster and its Pods: no file is audited with them.
var clusterFlags = []string{"kubeconfig", "context", "namespace", "all-namespaces", "selector"}

// runCluster audits the cluster: in this binary when it links a Kubernetes
// client, else in inject-mesher-audit, handed the same arguments.
func (o *auditOptions) runCluster(ctx context.Context) error {
	if o.cluster == nil {
		return o.handOver()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// ^C stops the lists in flight: nothing is written but what failed.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fromFiles, err := readTemplates(o.templates)
	if err != nil {
		return o.failAudit(err.Error())
	}
	findings, err := o.cluster(ctx, audit.Cluster{Kubeconfig: o.kubeconfig, Context: o.kubeContext, Namespace: o.namespace,
		AllNamespaces: o.allNamespaces, Selector: o.selector, ConfigFile: o.configFile, Sets: o.sets, Templates: fromFiles, Notes: o.ErrOut})
	if err != nil {
		return o.failAudit(err.Error())
	}
	return o.finish(findings)
}

func (o *auditOptions) failAudit(msg string) error {
	fmt.Fprintln(o.ErrOut, "error: "+msg)
	return exitCode(1)
}

func (o *auditOptions) print(rep auditReport) error {
	switch o.output {
	case "json":
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = o.Out.Write(append(b, '\n'))
		return err
	case "yaml":
		b, err := sigsyaml.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	case "policyreport":
		return writePolicyReports(o.Out, rep.Findings)
	}
	if len(rep.Findings) == 0 {
		_, err := fmt.Fprintln(o.Out, "No findings.")
		return err
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tRESOURCE\tCODE\tSEVERITY\tMESSAGE")
	for _, f := range rep.Findings {
		ns := f.Resource.Namespace
		if ns == "" {
			ns = "-"
		}
		msg := f.Message
		if f.Field != "" {
			msg = f.Field + ": " + msg
		}
		res := strings.ToLower(f.Resource.Kind) + "/" + f.Resource.Name
		if f.Workload != "" {
			pods := "pods"
			if f.Count == 1 {
				pods = "pod"
			}
			res = strings.ToLower(f.Workload) + fmt.Sprintf(" (%d %s)", f.Count, pods)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ns, res, f.Code, f.Severity, msg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	nss := make([]string, 0, len(rep.NeedsRestart))
	for ns := range rep.NeedsRestart {
		nss = append(nss, ns)
	}
	slices.Sort(nss)
	for _, ns := range nss {
		if _, err := fmt.Fprintf(o.Out, "namespace %s: NEEDS RESTART: %d\n", ns, rep.NeedsRestart[ns]); err != nil {
			return err
		}
	}
	return nil
}

// policyResult is one result of a wgpolicyk8s.io/v1alpha2 PolicyReport.
type policyResult struct {
	Policy    string            `json:"policy"`
	Rule      string            `json:"rule"`
	Result    string            `json:"result"`
	Severity  string            `json:"severity"`
	Category  string            `json:"category"`
	Source    string            `json:"source"`
	Scored    bool              `json:"scored"`
	Message   string            `json:"message"`
	Resources []engine.Resource `json:"resources"`
}

type policyReport struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Summary    map[string]int `json:"summary"`
	Results    []policyResult `json:"results"`
}

// policyResultOf is a finding's result and severity in a PolicyReport.
func policyResultOf(s engine.Severity) (result, severity string) {
	switch s {
	case engine.Error:
		return "fail", "high"
	case engine.Warning:
		return "warn", "medium"
	}
	return "skip", "info"
}

// writePolicyReports writes the findings as PolicyReports, one per
// namespace (a ClusterPolicyReport for objects without one), so that the
// dashboards that read Kyverno's and other scanners' reports show them: an
// error fails, a warning warns, an info is skipped. Without a timestamp, so
// that the same findings give the same text.
func writePolicyReports(w io.Writer, findings []audit.Finding) error {
	byNS := map[string][]audit.Finding{}
	for _, f := range findings {
		byNS[f.Resource.Namespace] = append(byNS[f.Resource.Namespace], f)
	}
	nss := make([]string, 0, len(byNS))
	for ns := range byNS {
		nss = append(nss, ns)
	}
	slices.Sort(nss)
	for i, ns := range nss {
		r := policyReport{APIVersion: "wgpolicyk8s.io/v1alpha2", Kind: "PolicyReport",
			Metadata: map[string]any{"name": "inject-mesher-audit", "namespace": ns, "labels": map[string]string{"app.kubernetes.io/managed-by": "inject-mesher"}},
			Summary:  map[string]int{"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}}
		if ns == "" {
			r.Kind = "ClusterPolicyReport"
			delete(r.Metadata, "namespace")
		}
		for _, f := range byNS[ns] {
			result, sev := policyResultOf(f.Severity)
			r.Summary[result]++
			msg := f.Message
			if f.Field != "" {
				msg = f.Field + ": " + msg
			}
			r.Results = append(r.Results, policyResult{Policy: "inject-mesher", Rule: string(f.Code), Result: result, Severity: sev,
				Category: "sidecar injection", Source: "inject-mesher", Scored: true, Message: msg, Resources: []engine.Resource{f.Resource}})
		}
		b, err := sigsyaml.Marshal(r)
		if err != nil {
			return err
		}
		if i > 0 {
			b = append([]byte("---\n"), b...)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
