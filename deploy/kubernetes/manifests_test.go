// Package kubernetes_test checks the manifests of deploy/kubernetes offline: every object decodes strictly
// into its Kubernetes API type, every collector configuration they carry is accepted by the built
// collector, and the agent and gateway keep the privileges README "Deploy" documents.
package kubernetes_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// collectorPath is the collector that `make build` builds (make test builds it first).
const collectorPath = "../../bin/otelcol-syscallhealth"

// kustomization is the part of kustomize's Kustomization that these manifests use; decoded strictly, so a
// field this test does not know is an error to look at rather than something silently ignored.
type kustomization struct {
	APIVersion         string              `json:"apiVersion"`
	Kind               string              `json:"kind"`
	Namespace          string              `json:"namespace"`
	Labels             []kustomizeLabels   `json:"labels"`
	Resources          []string            `json:"resources"`
	ConfigMapGenerator []configMapGenerator `json:"configMapGenerator"`
	Images             []kustomizeImage    `json:"images"`
}

type kustomizeLabels struct {
	Pairs map[string]string `json:"pairs"`
}

type configMapGenerator struct {
	Name  string   `json:"name"`
	Files []string `json:"files"`
}

type kustomizeImage struct {
	Name   string `json:"name"`
	NewTag string `json:"newTag"`
}

// manifests is every object of the kustomization, decoded into its API type.
type manifests struct {
	kustomization kustomization
	namespaces    []corev1.Namespace
	accounts      []corev1.ServiceAccount
	roles         []rbacv1.ClusterRole
	bindings      []rbacv1.ClusterRoleBinding
	daemonSets    []appsv1.DaemonSet
	deployments   []appsv1.Deployment
	services      []corev1.Service
	// configFiles maps a generated ConfigMap's name to its config.yaml file.
	configFiles map[string]string
}

func decodeStrict(t *testing.T, file string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %T: %v", file, into, err)
	}
}

// loadManifests reads kustomization.yaml and every resource it lists. Each document's apiVersion and kind
// pick the API type it is decoded into, strictly: unknown or duplicate fields fail the test.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{configFiles: make(map[string]string)}
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	decodeStrict(t, "kustomization.yaml", data, &m.kustomization)
	if m.kustomization.APIVersion != "kustomize.config.k8s.io/v1beta1" || m.kustomization.Kind != "Kustomization" {
		t.Fatalf("kustomization.yaml: apiVersion/kind %s/%s", m.kustomization.APIVersion, m.kustomization.Kind)
	}
	for _, file := range m.kustomization.Resources {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			switch gvk := meta.APIVersion + " " + meta.Kind; gvk {
			case "v1 Namespace":
				m.namespaces = append(m.namespaces, corev1.Namespace{})
				decodeStrict(t, file, doc, &m.namespaces[len(m.namespaces)-1])
			case "v1 ServiceAccount":
				m.accounts = append(m.accounts, corev1.ServiceAccount{})
				decodeStrict(t, file, doc, &m.accounts[len(m.accounts)-1])
			case "rbac.authorization.k8s.io/v1 ClusterRole":
				m.roles = append(m.roles, rbacv1.ClusterRole{})
				decodeStrict(t, file, doc, &m.roles[len(m.roles)-1])
			case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
				m.bindings = append(m.bindings, rbacv1.ClusterRoleBinding{})
				decodeStrict(t, file, doc, &m.bindings[len(m.bindings)-1])
			case "apps/v1 DaemonSet":
				m.daemonSets = append(m.daemonSets, appsv1.DaemonSet{})
				decodeStrict(t, file, doc, &m.daemonSets[len(m.daemonSets)-1])
			case "apps/v1 Deployment":
				m.deployments = append(m.deployments, appsv1.Deployment{})
				decodeStrict(t, file, doc, &m.deployments[len(m.deployments)-1])
			case "v1 Service":
				m.services = append(m.services, corev1.Service{})
				decodeStrict(t, file, doc, &m.services[len(m.services)-1])
			default:
				t.Fatalf("%s document %d: %q is not a kind this test decodes; add its API type", file, i, gvk)
			}
		}
	}
	for _, g := range m.kustomization.ConfigMapGenerator {
		if len(g.Files) != 1 {
			t.Fatalf("configMapGenerator %s: want one file (config.yaml=...), got %v", g.Name, g.Files)
		}
		key, file, ok := strings.Cut(g.Files[0], "=")
		if !ok || key != "config.yaml" {
			t.Fatalf("configMapGenerator %s: want config.yaml=<file>, got %q", g.Name, g.Files[0])
		}
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("configMapGenerator %s: %v", g.Name, err)
		}
		m.configFiles[g.Name] = file
	}
	return m
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	if len(m.daemonSets) != 1 || len(m.deployments) != 1 || len(m.services) != 1 {
		t.Fatalf("want one agent DaemonSet, one gateway Deployment and its Service; got %d, %d, %d",
			len(m.daemonSets), len(m.deployments), len(m.services))
	}
	// Each workload runs the image the kustomization sets, with the configuration its ConfigMap mounts.
	for _, spec := range []corev1.PodSpec{m.daemonSets[0].Spec.Template.Spec, m.deployments[0].Spec.Template.Spec} {
		c := spec.Containers[0]
		image, _, _ := strings.Cut(c.Image, ":")
		if !slices.ContainsFunc(m.kustomization.Images, func(i kustomizeImage) bool { return i.Name == image }) {
			t.Errorf("container %s: image %s is not in the kustomization's images", c.Name, c.Image)
		}
		if _, ok := workloadConfig(t, m, spec); !ok {
			t.Errorf("container %s: runs no configuration of the configMapGenerator", c.Name)
		}
	}
	// The agent's account is bound to the role that lets k8sattributes watch pods.
	if len(m.bindings) != 1 || m.bindings[0].RoleRef.Name != m.roles[0].Name ||
		m.bindings[0].Subjects[0].Name != m.daemonSets[0].Spec.Template.Spec.ServiceAccountName ||
		m.bindings[0].Subjects[0].Namespace != m.kustomization.Namespace {
		t.Errorf("the ClusterRoleBinding does not bind the agent's service account to its ClusterRole")
	}
	if !slices.ContainsFunc(m.roles[0].Rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.Resources, "pods") && slices.Equal(r.Verbs, []string{"get", "list", "watch"})
	}) {
		t.Errorf("the agent's ClusterRole does not allow get/list/watch on pods: %+v", m.roles[0].Rules)
	}
}

// workloadConfig returns the collector configuration file that a pod spec runs: its --config argument
// must be the config.yaml of a mounted ConfigMap that the kustomization generates.
func workloadConfig(t *testing.T, m *manifests, spec corev1.PodSpec) (string, bool) {
	t.Helper()
	c := spec.Containers[0]
	for _, arg := range c.Args {
		path, ok := strings.CutPrefix(arg, "--config=")
		if !ok {
			continue
		}
		for _, mount := range c.VolumeMounts {
			if filepath.Join(mount.MountPath, "config.yaml") != path {
				continue
			}
			for _, v := range spec.Volumes {
				if v.Name == mount.Name && v.ConfigMap != nil {
					file, ok := m.configFiles[v.ConfigMap.Name]
					return file, ok
				}
			}
		}
	}
	return "", false
}

// containerEnv is the environment the container's spec gives the collector; values from the downward API
// get a stand-in.
func containerEnv(c corev1.Container) []string {
	var env []string
	for _, e := range c.Env {
		value := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			value = "from-" + e.ValueFrom.FieldRef.FieldPath
		}
		env = append(env, e.Name+"="+value)
	}
	return env
}

// validate runs `otelcol-syscallhealth validate` on a configuration with exactly the environment env.
func validate(t *testing.T, config string, env []string) {
	t.Helper()
	if _, err := os.Stat(collectorPath); err != nil {
		t.Fatalf("%s is missing (%v): run `make build` first (`make test` builds it)", collectorPath, err)
	}
	cmd := exec.Command(collectorPath, "validate", "--config="+config)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s validate --config=%s with %v: %v\n%s", collectorPath, config, env, err, out)
	}
}

// hostRootStandIn returns the configuration with the test host's own root as root_path: the receiver checks
// at validation that <root_path>/proc is a procfs, and /hostfs/proc exists only in the agent's container.
func hostRootStandIn(t *testing.T, config string) string {
	t.Helper()
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	const rootPath = "    root_path: /hostfs\n"
	if !bytes.Contains(data, []byte(rootPath)) {
		return config
	}
	standIn := filepath.Join(t.TempDir(), filepath.Base(config))
	if err := os.WriteFile(standIn, bytes.Replace(data, []byte(rootPath), []byte("    root_path: /\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return standIn
}

func TestCollectorConfigsValidate(t *testing.T) {
	m := loadManifests(t)
	for _, spec := range []corev1.PodSpec{m.daemonSets[0].Spec.Template.Spec, m.deployments[0].Spec.Template.Spec} {
		config, ok := workloadConfig(t, m, spec)
		if !ok {
			t.Fatalf("container %s runs no generated configuration", spec.Containers[0].Name)
		}
		t.Run(config, func(t *testing.T) { validate(t, hostRootStandIn(t, config), containerEnv(spec.Containers[0])) })
	}
	// The image's own default configuration: no environment needed.
	t.Run("image default", func(t *testing.T) { validate(t, "../image/config.yaml", nil) })
}

// collectorConfig reads a collector configuration into plain maps.
func collectorConfig(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cfg
}

// lookup follows keys through nested maps.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func envValue(c corev1.Container, name string) (corev1.EnvVar, bool) {
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
	if i < 0 {
		return corev1.EnvVar{}, false
	}
	return c.Env[i], true
}

func TestAgentPolicy(t *testing.T) {
	m := loadManifests(t)
	ds := m.daemonSets[0]
	spec := ds.Spec.Template.Spec
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		t.Fatalf("the agent pod must run the collector alone, got %d containers and %d init containers", len(spec.Containers), len(spec.InitContainers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if !spec.HostPID {
		t.Error("hostPID must be true: the agent attributes failures to the node's pids")
	}
	if spec.HostNetwork || spec.HostIPC {
		t.Error("the agent needs neither the host's network nor its IPC namespace")
	}
	if sc == nil || sc.Privileged == nil || *sc.Privileged {
		t.Fatal("securityContext.privileged must be set, to false")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities.drop must be exactly [ALL], got %+v", sc.Capabilities)
	}
	if got, want := sc.Capabilities.Add, []corev1.Capability{"BPF", "PERFMON"}; !slices.Equal(got, want) {
		t.Errorf("capabilities.add must be exactly %v (README \"Deploy\"), got %v", want, got)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && spec.SecurityContext != nil {
		seccomp = spec.SecurityContext.SeccompProfile
	}
	if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeUnconfined && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
		t.Errorf("the seccomp profile must be Unconfined or a Localhost profile allowing bpf and perf_event_open, got %+v", seccomp)
	}

	// Every host path is mounted read-only, and the ones the probes and enrichment need are there.
	hostPaths := make(map[string]string) // volume name -> host path
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounted := make(map[string]string) // host path -> mount path
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("volume %s is mounted writable at %s", vm.Name, vm.MountPath)
		}
		if p, ok := hostPaths[vm.Name]; ok {
			mounted[p] = vm.MountPath
		}
	}
	for host, want := range map[string]string{
		"/sys/kernel/btf":     "/sys/kernel/btf",
		"/sys/kernel/tracing": "/sys/kernel/tracing",
		"/sys/fs/cgroup":      "/sys/fs/cgroup",
		"/proc":               "/hostfs/proc",
	} {
		if got := mounted[host]; got != want {
			t.Errorf("host %s must be mounted at %s, got %q", host, want, got)
		}
	}
	if len(mounted) != len(hostPaths) {
		t.Errorf("every hostPath volume must be mounted: volumes %v, mounted %v", hostPaths, mounted)
	}

	checkProbesAndLimits(t, c, agentHealthPort(t, m))

	node, ok := envValue(c, "K8S_NODE_NAME")
	if !ok || node.ValueFrom == nil || node.ValueFrom.FieldRef == nil || node.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("K8S_NODE_NAME must come from the downward API's spec.nodeName, got %+v", node)
	}
}

// agentHealthPort checks the agent's pipeline (syscallhealth -> k8sattributes joined on container.id and
// k8s.pod.uid, this node's pods only -> otlp to the gateway Service) and returns health_check's port.
func agentHealthPort(t *testing.T, m *manifests) string {
	t.Helper()
	spec := m.daemonSets[0].Spec.Template.Spec
	file, _ := workloadConfig(t, m, spec)
	cfg := collectorConfig(t, file)
	k8s := lookup(cfg, "processors", "k8sattributes")
	var associations []string
	for _, a := range lookup(k8s, "pod_association").([]any) {
		for _, s := range lookup(a, "sources").([]any) {
			associations = append(associations, fmt.Sprint(lookup(s, "from"), ":", lookup(s, "name")))
		}
	}
	if want := []string{"resource_attribute:container.id", "resource_attribute:k8s.pod.uid"}; !slices.Equal(associations, want) {
		t.Errorf("k8sattributes pod_association: want %v, got %v", want, associations)
	}
	// The receiver reads the host's /proc where the DaemonSet mounts it.
	if root := fmt.Sprint(lookup(cfg, "receivers", "syscallhealth", "root_path")); !slices.ContainsFunc(spec.Containers[0].VolumeMounts,
		func(m corev1.VolumeMount) bool { return m.MountPath == root+"/proc" && m.ReadOnly }) {
		t.Errorf("receivers.syscallhealth.root_path %q: the container mounts no %s/proc", root, root)
	}
	if got := lookup(k8s, "filter", "node_from_env_var"); got != "K8S_NODE_NAME" {
		t.Errorf("k8sattributes must watch only its node's pods (filter.node_from_env_var: K8S_NODE_NAME), got %v", got)
	}
	for _, signal := range []string{"logs", "metrics"} {
		p := lookup(cfg, "service", "pipelines", signal)
		if got := fmt.Sprint(lookup(p, "receivers"), lookup(p, "processors"), lookup(p, "exporters")); got !=
			"[syscallhealth] [memory_limiter k8sattributes resource/node batch] [otlp_grpc]" {
			t.Errorf("agent %s pipeline: %s", signal, got)
		}
	}
	// The agent sends to the gateway Service's OTLP port.
	endpoint, _ := envValue(spec.Containers[0], "OTLP_ENDPOINT")
	svc := m.services[0]
	if lookup(cfg, "exporters", "otlp_grpc", "endpoint") != "${env:OTLP_ENDPOINT}" ||
		!slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return endpoint.Value == fmt.Sprintf("%s:%d", svc.Name, p.Port) && p.Name == "otlp-grpc" }) {
		t.Errorf("the agent's otlp exporter must send to the gateway Service's otlp-grpc port, got OTLP_ENDPOINT=%q", endpoint.Value)
	}
	return healthPort(t, cfg)
}

var defaultPort = regexp.MustCompile(`:(\d+)\}?$`)

// healthPort is the port of health_check's endpoint (the default of its ${env:...:-default}).
func healthPort(t *testing.T, cfg map[string]any) string {
	t.Helper()
	endpoint := fmt.Sprint(lookup(cfg, "extensions", "health_check", "endpoint"))
	match := defaultPort.FindStringSubmatch(endpoint)
	if match == nil || !slices.Contains(lookup(cfg, "service", "extensions").([]any), any("health_check")) {
		t.Fatalf("health_check must be enabled with an endpoint port, got %q", endpoint)
	}
	return match[1]
}

// checkProbesAndLimits: liveness and readiness ask health_check, and cpu and memory have requests and limits.
func checkProbesAndLimits(t *testing.T, c corev1.Container, healthPort string) {
	t.Helper()
	portNumber := func(p corev1.Probe) string {
		if p.HTTPGet == nil {
			return ""
		}
		if name := p.HTTPGet.Port.String(); name != "" && p.HTTPGet.Port.IntValue() == 0 {
			for _, cp := range c.Ports {
				if cp.Name == name {
					return fmt.Sprint(cp.ContainerPort)
				}
			}
		}
		return p.HTTPGet.Port.String()
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || portNumber(*p) != healthPort {
			t.Errorf("%s: %s probe must ask health_check on port %s, got %+v", c.Name, name, healthPort, p)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("%s: no %s request", c.Name, r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("%s: no %s limit", c.Name, r)
		}
	}
}

func TestGatewayPolicy(t *testing.T) {
	m := loadManifests(t)
	spec := m.deployments[0].Spec.Template.Spec
	c := spec.Containers[0]
	sc := c.SecurityContext
	if spec.HostPID || spec.HostNetwork || spec.HostIPC {
		t.Error("the gateway shares no host namespace")
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			t.Errorf("the gateway mounts no host path, got %s", v.HostPath.Path)
		}
	}
	if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Error("the gateway must run as non-root")
	}
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the gateway must be unprivileged, without privilege escalation, on a read-only root filesystem")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("the gateway drops every capability and adds none, got %+v", sc.Capabilities)
	}
	file, _ := workloadConfig(t, m, spec)
	cfg := collectorConfig(t, file)
	checkProbesAndLimits(t, c, healthPort(t, cfg))
	if got := fmt.Sprint(lookup(cfg, "service", "pipelines", "metrics", "exporters")); got != "[otlp_grpc/backend prometheus]" {
		t.Errorf("gateway metrics exporters: want otlp and prometheus, got %s", got)
	}
	// The Service's ports lead to the container's ports of the same name.
	for _, p := range m.services[0].Spec.Ports {
		if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.String() }) {
			t.Errorf("Service port %s: target %s is no port of the gateway container", p.Name, p.TargetPort.String())
		}
	}
	if sel := m.services[0].Spec.Selector; !maps.Equal(sel, m.deployments[0].Spec.Template.Labels) {
		t.Errorf("the Service selects %v, the gateway pods are labelled %v", sel, m.deployments[0].Spec.Template.Labels)
	}
}
