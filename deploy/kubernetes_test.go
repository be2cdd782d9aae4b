package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's file format the manifests use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// objects decodes every document of the kustomization's resources
// strictly (an unknown or misspelt field fails) into its API type.
func objects(t *testing.T) map[string]any {
	t.Helper()
	dir := "kubernetes"
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.Kind != "Kustomization" || len(k.Resources) == 0 {
		t.Fatalf("kustomization.yaml: %+v", k)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(k.Resources, b) {
			t.Errorf("%s is not listed in kustomization.yaml resources", b)
		}
	}
	out := map[string]any{}
	for _, res := range k.Resources {
		b, err := os.ReadFile(filepath.Join(dir, res))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s #%d: %v", res, i, err)
			}
			var obj any
			switch meta.Kind {
			case "StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "Service":
				obj = &corev1.Service{}
			case "PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "HorizontalPodAutoscaler":
				obj = &autoscalingv2.HorizontalPodAutoscaler{}
			default:
				t.Fatalf("%s #%d: kind %q has no decoder here", res, i, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s #%d (%s): %v", res, i, meta.Kind, err)
			}
			key := meta.Kind + "/" + meta.Metadata.Name
			if _, dup := out[key]; dup {
				t.Fatalf("%s defined twice", key)
			}
			out[key] = obj
		}
	}
	return out
}

func TestManifestsDecodeStrictly(t *testing.T) {
	objs := objects(t)
	for _, want := range []string{"StatefulSet/grafo", "Service/grafo", "Service/grafo-api", "PodDisruptionBudget/grafo", "HorizontalPodAutoscaler/grafo"} {
		if objs[want] == nil {
			t.Fatalf("missing %s (have %v)", want, keys(objs))
		}
	}
	ss := objs["StatefulSet/grafo"].(*appsv1.StatefulSet)
	svc := objs["Service/grafo"].(*corev1.Service)
	pdb := objs["PodDisruptionBudget/grafo"].(*policyv1.PodDisruptionBudget)
	hpa := objs["HorizontalPodAutoscaler/grafo"].(*autoscalingv2.HorizontalPodAutoscaler)

	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses || ss.Spec.ServiceName != svc.Name {
		t.Errorf("the StatefulSet's Service must be headless and publish not-ready pods: %+v", svc.Spec)
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.Template.Spec.Containers[0].VolumeMounts[0].MountPath != "/data" {
		t.Errorf("each pod needs its own volume on /data")
	}
	c := ss.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe must be GET /readyz: %+v", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe must be GET /healthz: %+v", c.LivenessProbe)
	}
	// A node opening a big file answers nothing for a while: a startup
	// probe must give it minutes before liveness may kill it.
	if sp := c.StartupProbe; sp == nil || sp.HTTPGet == nil || sp.HTTPGet.Path != "/healthz" ||
		sp.PeriodSeconds*sp.FailureThreshold < 600 {
		t.Errorf("startup probe must be GET /healthz allowing at least 10 minutes: %+v", sp)
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil ||
		!strings.Contains(strings.Join(c.Lifecycle.PreStop.Exec.Command, " "), "cluster leave --wait") {
		t.Errorf("preStop must leave the ring and wait: %+v", c.Lifecycle)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for _, name := range []string{"GRAFO_NODE_ID", "GRAFO_ADVERTISE", "GRAFO_JOIN", "GRAFO_CLUSTER_SECRET", "GRAFO_CAPACITY"} {
		if _, ok := env[name]; !ok {
			t.Errorf("container env lacks %s", name)
		}
	}
	if !strings.HasPrefix(env["GRAFO_JOIN"], ss.Name+"-0."+svc.Name+".") {
		t.Errorf("GRAFO_JOIN=%q: every pod joins through the first ordinal's stable name", env["GRAFO_JOIN"])
	}
	if !strings.HasPrefix(env["GRAFO_PEERS"], svc.Name+".") || !strings.HasSuffix(env["GRAFO_PEERS"], ":7071") {
		t.Errorf("GRAFO_PEERS=%q: the seed must ask the headless service's name (every pod) before it bootstraps", env["GRAFO_PEERS"])
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("with N=3 the PodDisruptionBudget must keep a quorum: maxUnavailable 1, got %+v", pdb.Spec.MaxUnavailable)
	}
	if hpa.Spec.ScaleTargetRef.Kind != "StatefulSet" || hpa.Spec.ScaleTargetRef.Name != ss.Name ||
		hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 3 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("HPA must scale the StatefulSet from at least N=3: %+v", hpa.Spec)
	}
	for _, m := range hpa.Spec.Metrics {
		if m.Pods == nil || !strings.HasPrefix(m.Pods.Metric.Name, "grafo_load_") {
			t.Errorf("HPA metric %+v is not one the nodes export", m)
		}
	}
	grace := ss.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || *grace < 300 {
		t.Errorf("terminationGracePeriodSeconds must leave time for the hand-off")
	}
}

// A misspelt field is what strict decoding is for: prove it fails.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	doc := []byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailabel: 1}\n")
	if err := yaml.UnmarshalStrict(doc, &policyv1.PodDisruptionBudget{}); err == nil {
		t.Fatal("a misspelt field decoded without error")
	}
}

func keys(m map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}
