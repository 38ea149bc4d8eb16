// Checks deploy/kubernetes/ offline: every object against its Kubernetes (kubernetes-models) or
// KEDA (@kubernetes-models/keda) schema; every scale target, Service and PodDisruptionBudget
// pointing at a workload of the set; every VERSO_* variable naming an option of `verso`; and the
// platform spec's scaling table (thresholds, bounds, +2 / -1 steps, windows) as the autoscalers
// hold it. Prints one line per object and exits 1 on the first failure, naming it.
//   node tests/kubernetes/validate.mjs DIR OPTIONS_FILE
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

const [dir, optionsFile] = process.argv.slice(2);
const options = new Set(readFileSync(optionsFile, "utf8").split("\n").filter(Boolean));

async function modelOf(apiVersion, kind) {
  const module =
    apiVersion === "keda.sh/v1alpha1"
      ? await import("@kubernetes-models/keda/keda.sh/v1alpha1")
      : await import(`kubernetes-models/${apiVersion}`);
  if (!module[kind]) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return module[kind];
}

function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

// The validator must refuse what is wrong: a broken object first.
{
  const Deployment = await modelOf("apps/v1", "Deployment");
  let refused = false;
  try {
    new Deployment({ metadata: { name: "x" }, spec: { replicas: "three", selector: {}, template: {} } }).validate();
  } catch {
    refused = true;
  }
  if (!refused) fail("the schema check accepted a Deployment with replicas: \"three\"");
}

const objects = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
  for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
    if (doc.errors.length > 0) fail(`${file}: ${doc.errors[0].message}`);
    const object = doc.toJS();
    if (object === null) continue;
    const where = `${file}: ${object.kind} ${object.metadata?.name}`;
    const Model = await modelOf(object.apiVersion, object.kind);
    try {
      new Model(object).validate();
    } catch (e) {
      fail(`${where}: ${e.message}`);
    }
    objects.push({ file, where, object });
    console.log(`ok ${where}`);
  }
}

const byKind = (kind) => objects.filter((o) => o.object.kind === kind).map((o) => o.object);
const workloads = [...byKind("Deployment"), ...byKind("StatefulSet")];
const matches = (selector, labels) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

for (const svc of byKind("Service")) {
  if (!workloads.some((w) => matches(svc.spec.selector, w.spec.template.metadata.labels))) {
    fail(`Service ${svc.metadata.name} selects no workload`);
  }
}
for (const pdb of byKind("PodDisruptionBudget")) {
  if (!workloads.some((w) => matches(pdb.spec.selector.matchLabels, w.spec.template.metadata.labels))) {
    fail(`PodDisruptionBudget ${pdb.metadata.name} selects no workload`);
  }
}
for (const w of workloads) {
  if (!matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels)) {
    fail(`${w.kind} ${w.metadata.name}: its selector does not match its pods`);
  }
  for (const c of w.spec.template.spec.containers) {
    for (const e of c.env ?? []) {
      if (e.name.startsWith("VERSO_") && !options.has(e.name)) {
        fail(`${w.kind} ${w.metadata.name}: ${e.name} is no verso option`);
      }
    }
  }
}
for (const cm of byKind("ConfigMap")) {
  for (const name of Object.keys(cm.data ?? {})) {
    if (name.startsWith("VERSO_") && !options.has(name)) fail(`ConfigMap ${cm.metadata.name}: ${name} is no verso option`);
  }
}

// The scaling table: role -> [min, max, what the trigger compares, threshold].
const spec = {
  "verso-api": [3, 20, "cpu", 70],
  "verso-worker": [2, 100, 'max(verso_queue_oldest_seconds{queue="tasks"})', 300],
  "verso-tm": [3, 30, "memory+latency", [80, 0.05]],
  "verso-editor": [1, 20, 'max(verso_queue_depth{queue="post_edit"})', 1000],
  "verso-qe": [2, 20, "verso_qe_duration_seconds p95", 0.1],
};
const scalers = new Map();
for (const h of byKind("HorizontalPodAutoscaler")) scalers.set(h.spec.scaleTargetRef.name, { hpa: h });
for (const s of byKind("ScaledObject")) scalers.set(s.spec.scaleTargetRef.name, { keda: s });
for (const [target, [min, max, what, threshold]] of Object.entries(spec)) {
  const s = scalers.get(target);
  if (!s) fail(`no autoscaler for ${target}`);
  if (!workloads.some((w) => w.metadata.name === target)) fail(`autoscaler target ${target} is no workload`);
  const behavior = s.hpa ? s.hpa.spec.behavior : s.keda.spec.advanced.horizontalPodAutoscalerConfig.behavior;
  const [lo, hi] = s.hpa ? [s.hpa.spec.minReplicas, s.hpa.spec.maxReplicas] : [s.keda.spec.minReplicaCount, s.keda.spec.maxReplicaCount];
  if (lo !== min || hi !== max) fail(`${target}: replicas ${lo}-${hi}, the spec says ${min}-${max}`);
  const up = behavior.scaleUp.policies, down = behavior.scaleDown.policies;
  if (up.length !== 1 || up[0].type !== "Pods" || up[0].value !== 2) fail(`${target}: scale-up step is not +2 pods`);
  if (down.length !== 1 || down[0].type !== "Pods" || down[0].value !== 1) fail(`${target}: scale-down step is not -1 pod`);
  if (behavior.scaleDown.stabilizationWindowSeconds !== 600) fail(`${target}: scale-down window is not 10 min`);
  if (s.hpa) {
    const m = s.hpa.spec.metrics[0].resource;
    if (m.name !== "cpu" || m.target.averageUtilization !== threshold) fail(`${target}: not CPU > ${threshold} %`);
    if (behavior.scaleUp.stabilizationWindowSeconds !== 120) fail(`${target}: scale-up window is not 2 min`);
    continue;
  }
  const triggers = s.keda.spec.triggers;
  if (target === "verso-tm") {
    const memory = triggers.find((t) => t.type === "memory");
    const latency = triggers.find((t) => t.type === "prometheus");
    if (!memory || memory.metadata.value !== String(threshold[0])) fail(`${target}: not memory > 80 %`);
    if (!latency || Number(latency.metadata.threshold) !== threshold[1] || !latency.metadata.query.includes("histogram_quantile(0.99"))
      fail(`${target}: not p99 latency > 50 ms`);
    continue;
  }
  const t = triggers[0];
  if (t.type !== "prometheus" || Number(t.metadata.threshold) !== threshold) fail(`${target}: threshold is not ${threshold}`);
  if (what.startsWith("max(") && t.metadata.query !== what) fail(`${target}: query is not ${what}`);
  if (what.endsWith("p95") && !t.metadata.query.includes("histogram_quantile(0.95")) fail(`${target}: not a p95`);
}
console.log(`${objects.length} objects valid; the spec's scaling table holds for ${Object.keys(spec).length} roles`);
