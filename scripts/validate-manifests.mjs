#!/usr/bin/env node
// Validates the Kubernetes manifests without a cluster (`npm run validate:manifests`):
//  - every object of deploy/k8s/base (as listed in its kustomization), of secret.template.yaml and
//    of each overlay rendered by `kubectl kustomize` (kubectl's built-in kustomize; without kubectl
//    the overlays are reported SKIPPED, loudly) against the Kubernetes OpenAPI schemas shipped by
//    `kubernetes-models` (and `@kubernetes-models/prometheus-operator` for ServiceMonitor and
//    PrometheusRule);
//  - policies: numeric non-root user, read-only root filesystem, no privilege escalation, all
//    capabilities dropped, requests and limits, liveness and readiness probes, no `latest` or
//    untagged image; control plane >= 2 replicas with a PDB, a CPU HPA and anti-affinity; workers
//    probed on their own port, with their own Secret and never the admin token; the worker
//    NetworkPolicy only lets workers reach Redis, RabbitMQ, the control plane and DNS.
//  - custom resources of the brokers' operators the `ha` overlay uses (RabbitmqCluster of the
//    RabbitMQ Cluster Operator), which kubernetes-models has no schema for: their fields as the
//    operator's CRD defines them (unknown fields refused), an odd number >= 3 of nodes, a pinned
//    image, requests and limits;
// Prints one line per problem and a closing summary; `--json` prints {objects, problems, skipped}.
// Exit 1 when any problem is found.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const K8S = process.env.K8S_DIR ?? join(ROOT, 'deploy', 'k8s');
const OVERLAYS = existsSync(join(K8S, 'overlays'))
  ? readdirSync(join(K8S, 'overlays'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
  : [];
// Redis, Sentinel, RabbitMQ, the control plane, DNS, OTLP/HTTP to the collector.
const WORKER_EGRESS_PORTS = new Set([6379, 26379, 5672, 3000, 53, 4318]);

const problems = [];
const skipped = [];
let objectCount = 0;

function docsOf(text, source) {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) problems.push(`${source}: YAML: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter((o) => o && typeof o === 'object')
    .map((o) => ({ object: o, source }));
}

/** The kubernetes-models class for an object's apiVersion/kind, or undefined. */
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const candidates =
    group === 'monitoring.coreos.com'
      ? [`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`]
      : [`kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`];
  for (const spec of candidates) {
    try {
      const mod = await import(spec);
      if (mod[kind]) return mod[kind];
    } catch {
      // not shipped: reported by the caller
    }
  }
  return undefined;
}

// spec fields of rabbitmq.com/v1beta1 RabbitmqCluster (the operator's CRD, v2.x).
const RABBITMQ_CLUSTER_SPEC = new Set([
  'replicas',
  'image',
  'imagePullSecrets',
  'service',
  'persistence',
  'resources',
  'affinity',
  'tolerations',
  'rabbitmq',
  'tls',
  'override',
  'skipPostDeploySteps',
  'terminationGracePeriodSeconds',
  'secretBackend',
  'delayStartSeconds',
  'autoEnableAllFeatureFlags',
]);
const RABBITMQ_CONFIG = new Set([
  'additionalPlugins',
  'additionalConfig',
  'advancedConfig',
  'envConfig',
  'erlangInetConfig',
]);

/** Custom resources kubernetes-models has no schema for; true when `object` is one of them. */
function checkCustomResource(object, id) {
  if (object.apiVersion !== 'rabbitmq.com/v1beta1' || object.kind !== 'RabbitmqCluster')
    return false;
  const spec = object.spec ?? {};
  if (!object.metadata?.name) problems.push(`${id}: no metadata.name`);
  for (const k of Object.keys(spec))
    if (!RABBITMQ_CLUSTER_SPEC.has(k)) problems.push(`${id}: schema: unknown field spec.${k}`);
  for (const k of Object.keys(spec.rabbitmq ?? {}))
    if (!RABBITMQ_CONFIG.has(k)) problems.push(`${id}: schema: unknown field spec.rabbitmq.${k}`);
  if (!Number.isInteger(spec.replicas) || spec.replicas < 3 || spec.replicas % 2 === 0)
    problems.push(
      `${id}: spec.replicas must be an odd integer >= 3 (quorum queues need a majority)`,
    );
  const tag = (spec.image ?? '').split('/').pop().split(':')[1];
  if (!spec.image || !tag || tag === 'latest')
    problems.push(`${id}: image '${spec.image ?? ''}' has no pinned tag`);
  for (const kind of ['requests', 'limits'])
    for (const r of ['cpu', 'memory'])
      if (!spec.resources?.[kind]?.[r]) problems.push(`${id}: no resources.${kind}.${r}`);
  if (spec.persistence?.storage !== undefined && typeof spec.persistence.storage !== 'string')
    problems.push(`${id}: schema: spec.persistence.storage must be a quantity string`);
  return true;
}

async function checkSchema({ object, source }) {
  const id = `${source}: ${object.kind}/${object.metadata?.name}`;
  if (checkCustomResource(object, id)) return;
  const Model = await modelFor(object.apiVersion ?? '', object.kind ?? '');
  if (!Model) {
    problems.push(`${id}: no schema for ${object.apiVersion} ${object.kind}`);
    return;
  }
  try {
    new Model(object).validate();
  } catch (e) {
    problems.push(`${id}: schema: ${e.message}`);
  }
}

function labelsMatch(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

function checkWorkload(obj, all, source) {
  const id = `${source}: ${obj.kind}/${obj.metadata.name}`;
  const pod = obj.spec.template.spec;
  const podLabels = obj.spec.template.metadata?.labels ?? {};
  const psc = pod.securityContext ?? {};
  if (psc.runAsNonRoot !== true)
    problems.push(`${id}: pod securityContext.runAsNonRoot is not true`);
  if (!Number.isInteger(psc.runAsUser) || psc.runAsUser === 0)
    problems.push(`${id}: pod securityContext.runAsUser must be a numeric non-root uid`);
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const cid = `${id} container ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true)
      problems.push(`${cid}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false)
      problems.push(`${cid}: allowPrivilegeEscalation is not false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL'))
      problems.push(`${cid}: capabilities are not dropped (drop: [ALL])`);
    if (sc.runAsUser === 0) problems.push(`${cid}: runs as root`);
    for (const kind of ['requests', 'limits'])
      for (const r of ['cpu', 'memory'])
        if (!c.resources?.[kind]?.[r]) problems.push(`${cid}: no resources.${kind}.${r}`);
    if (!c.livenessProbe) problems.push(`${cid}: no livenessProbe`);
    if (!c.readinessProbe) problems.push(`${cid}: no readinessProbe`);
    const image = c.image ?? '';
    const tag = image.includes('@') ? 'digest' : image.split('/').pop().split(':')[1];
    if (!tag || tag === 'latest') problems.push(`${cid}: image '${image}' has no pinned tag`);
  }
  const component = podLabels['app.kubernetes.io/component'];
  if (component === 'control-plane') {
    if ((obj.spec.replicas ?? 1) < 2 && !source.includes('dev'))
      problems.push(`${id}: control plane needs >= 2 replicas`);
    const pdb = all.find(
      (o) =>
        o.kind === 'PodDisruptionBudget' && labelsMatch(o.spec.selector?.matchLabels, podLabels),
    );
    if (!pdb) problems.push(`${id}: no PodDisruptionBudget selects the control plane`);
    const hpa = all.find(
      (o) =>
        o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef?.name === obj.metadata.name,
    );
    if (!hpa) problems.push(`${id}: no HorizontalPodAutoscaler targets the control plane`);
    else if (
      !(hpa.spec.metrics ?? []).some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')
    )
      problems.push(`${id}: the HPA does not scale on CPU`);
    if (!pod.affinity?.podAntiAffinity) problems.push(`${id}: no pod anti-affinity`);
  }
  if (component === 'worker') {
    const c = pod.containers[0];
    const port = (c.ports ?? []).find((p) => p.containerPort === 9464);
    const probePort = c.readinessProbe?.httpGet?.port;
    if (!port || (probePort !== port.name && probePort !== 9464))
      problems.push(`${id}: worker probes are not on the worker HTTP port (9464)`);
    if (c.readinessProbe?.httpGet?.path !== '/health/ready')
      problems.push(`${id}: worker readiness is not /health/ready`);
    const env = JSON.stringify([c.env ?? [], c.envFrom ?? []]);
    if (env.includes('SWITCHYARD_ADMIN_TOKEN'))
      problems.push(`${id}: the worker gets the admin token`);
    const secrets = (c.envFrom ?? []).filter((e) => e.secretRef).map((e) => e.secretRef.name);
    if (secrets.some((s) => s.includes('control-plane')))
      problems.push(`${id}: the worker reads the control plane's Secret`);
    if (secrets.length === 0)
      problems.push(`${id}: the worker has no credentials Secret of its own`);
    const policy = all.find(
      (o) => o.kind === 'NetworkPolicy' && labelsMatch(o.spec.podSelector?.matchLabels, podLabels),
    );
    if (!policy) problems.push(`${id}: no NetworkPolicy selects the workers`);
    else {
      if (!(policy.spec.policyTypes ?? []).includes('Egress'))
        problems.push(`${id}: the worker NetworkPolicy does not restrict egress`);
      for (const rule of policy.spec.egress ?? []) {
        if (!rule.to || rule.to.length === 0)
          problems.push(`${id}: a worker egress rule allows every destination`);
        if (!rule.ports || rule.ports.length === 0)
          problems.push(`${id}: a worker egress rule allows every port`);
        for (const p of rule.ports ?? [])
          if (!WORKER_EGRESS_PORTS.has(p.port))
            problems.push(`${id}: workers may reach port ${p.port}`);
      }
    }
  }
}

async function checkSet(name, entries) {
  objectCount += entries.length;
  for (const e of entries) await checkSchema(e);
  const all = entries.map((e) => e.object);
  for (const e of entries)
    if (['Deployment', 'StatefulSet', 'DaemonSet'].includes(e.object.kind))
      checkWorkload(e.object, all, name);
  for (const kind of ['ServiceMonitor', 'PrometheusRule'])
    if (!all.some((o) => o.kind === kind) && name !== 'secret.template.yaml')
      problems.push(`${name}: no ${kind}`);
}

const base = parse(readFileSync(join(K8S, 'base', 'kustomization.yaml'), 'utf8'));
const baseImage = base.images?.[0];
const baseEntries = base.resources.flatMap((file) =>
  docsOf(readFileSync(join(K8S, 'base', file), 'utf8'), `base/${file}`).map((e) => {
    // The base names the image `switchyard`; its kustomization pins it (images:).
    for (const c of e.object.spec?.template?.spec?.containers ?? [])
      if (c.image === baseImage?.name)
        c.image = `${baseImage.newName ?? c.image}:${baseImage.newTag}`;
    return e;
  }),
);
await checkSet('base', baseEntries);
const secrets = docsOf(
  readFileSync(join(K8S, 'secret.template.yaml'), 'utf8'),
  'secret.template.yaml',
);
objectCount += secrets.length;
for (const e of secrets) await checkSchema(e);
if (
  secrets.some(
    (e) =>
      e.object.metadata.name === 'switchyard-worker' &&
      JSON.stringify(e.object).includes('ADMIN_TOKEN'),
  )
)
  problems.push('secret.template.yaml: the worker Secret holds the admin token');

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
for (const overlay of OVERLAYS) {
  if (kubectl.status !== 0) {
    skipped.push(
      `overlays/${overlay}: kubectl not installed, so its kustomize output was not rendered`,
    );
    continue;
  }
  let out;
  try {
    out = execFileSync('kubectl', ['kustomize', join(K8S, 'overlays', overlay)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    problems.push(`overlays/${overlay}: kubectl kustomize failed: ${e.stderr || e.message}`);
    continue;
  }
  await checkSet(`overlays/${overlay}`, docsOf(out, `overlays/${overlay}`));
}

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ objects: objectCount, problems, skipped })}\n`);
} else {
  for (const p of problems) process.stdout.write(`PROBLEM ${p}\n`);
  for (const s of skipped) process.stdout.write(`SKIPPED ${s}\n`);
  process.stdout.write(
    `manifests: ${objectCount} objects checked, ${problems.length} problem(s)\n`,
  );
}
process.exit(problems.length === 0 ? 0 : 1);
