import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const VALIDATOR = join(ROOT, 'scripts', 'validate-manifests.mjs');
const K8S = join(ROOT, 'deploy', 'k8s');

interface Report {
  objects: number;
  problems: string[];
  skipped: string[];
}

/** Runs scripts/validate-manifests.mjs (ESM: kubernetes-models ships ESM only) on a k8s dir. */
function validate(dir = K8S): { status: number | null; report: Report } {
  const r = spawnSync(process.execPath, [VALIDATOR, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, K8S_DIR: dir },
    timeout: 120_000,
  });
  if (!r.stdout.trim()) throw new Error(`validator printed nothing: ${r.stderr}`);
  return { status: r.status, report: JSON.parse(r.stdout.trim().split('\n').pop()!) as Report };
}

jest.setTimeout(180_000);

describe('Kubernetes manifests (deploy/k8s), without a cluster', () => {
  it('every object passes the Kubernetes OpenAPI schemas and the policy checks', () => {
    const { status, report } = validate();
    for (const s of report.skipped) console.warn(`SKIPPED ${s}`);
    expect(report.problems).toEqual([]);
    expect(status).toBe(0);
    // base (14) + 2 Secret templates, and both overlays when kubectl renders them.
    expect(report.objects).toBeGreaterThanOrEqual(16);
  });

  it('renders every overlay with kubectl kustomize (or says loudly that it could not)', () => {
    const { report } = validate();
    const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (kubectl.status === 0) {
      expect(report.skipped).toEqual([]);
      // base + templates, dev, prod, and ha (prod + the RabbitmqCluster).
      expect(report.objects).toBeGreaterThanOrEqual(16 + 14 + 14 + 15);
    } else {
      console.warn('SKIPPED overlay rendering: kubectl is not installed');
      expect(report.skipped).toHaveLength(3);
    }
  });

  it('the ha overlay points Switchyard at the Sentinels and a 3-node RabbitMQ cluster', () => {
    const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (kubectl.status !== 0) {
      console.warn('SKIPPED ha overlay rendering: kubectl is not installed');
      return;
    }
    const out = execFileSync('kubectl', ['kustomize', join(K8S, 'overlays', 'ha')], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/REDIS_SENTINELS: (\S+:26379,){2}\S+:26379/);
    expect(out).toContain('REDIS_SENTINEL_NAME: switchyard');
    expect(out).toContain('REDIS_MIN_REPLICAS_ACK: "1"');
    expect(out).toContain('AMQP_QUEUE_TYPE: quorum');
    expect(out).toMatch(/kind: RabbitmqCluster[\s\S]*replicas: 3/);
    // Workers may reach the operator's RabbitMQ pods (labelled component: rabbitmq).
    expect(out).toContain('app.kubernetes.io/component: rabbitmq');
    const values = readFileSync(join(K8S, 'overlays', 'ha', 'redis-sentinel-values.yaml'), 'utf8');
    expect(values).toContain('masterSet: switchyard');
  });

  it('finds what it checks for: a broken copy of the manifests is refused, naming each fault', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-k8s-'));
    try {
      cpSync(K8S, dir, { recursive: true });
      const edit = (file: string, from: string, to: string) => {
        const path = join(dir, file);
        const text = readFileSync(path, 'utf8');
        if (!text.includes(from)) throw new Error(`${file} has no '${from}'`);
        writeFileSync(path, text.replace(from, to));
      };
      edit('base/kustomization.yaml', 'newTag: 0.1.0', 'newTag: latest');
      edit('base/worker.yaml', 'runAsUser: 10001', 'runAsUser: 0');
      edit('base/worker.yaml', "limits: { cpu: '2', memory: 2Gi }", "limits: { cpu: '2' }");
      edit(
        'base/worker.yaml',
        'secretRef: { name: switchyard-worker }',
        'secretRef: { name: switchyard-control-plane }',
      );
      edit(
        'base/control-plane.yaml',
        'readOnlyRootFilesystem: true',
        'readOnlyRootFilesystem: false',
      );
      edit('base/control-plane.yaml', 'replicas: 2', "replicas: 'two'");
      edit(
        'base/networkpolicy.yaml',
        '{ port: 5672, protocol: TCP }',
        '{ port: 443, protocol: TCP }',
      );
      edit('overlays/ha/rabbitmq-cluster.yaml', 'replicas: 3', 'replicas: 2');
      edit('overlays/ha/rabbitmq-cluster.yaml', 'persistence:', 'persistance:');
      const { status, report } = validate(dir);
      expect(status).toBe(1);
      const text = report.problems.join('\n');
      expect(text).toMatch(/image '.*:latest' has no pinned tag/);
      expect(text).toMatch(
        /switchyard-worker: pod securityContext.runAsUser must be a numeric non-root uid/,
      );
      expect(text).toMatch(/container worker: no resources.limits.memory/);
      expect(text).toMatch(/the worker reads the control plane's Secret/);
      expect(text).toMatch(/container control-plane: readOnlyRootFilesystem is not true/);
      expect(text).toMatch(/schema: .*spec\/replicas must be integer/);
      expect(text).toMatch(/workers may reach port 443/);
      if (spawnSync('kubectl', ['version', '--client']).status === 0) {
        expect(text).toMatch(/RabbitmqCluster\/switchyard-rabbitmq: spec.replicas must be an odd/);
        expect(text).toMatch(
          /RabbitmqCluster\/switchyard-rabbitmq: schema: unknown field spec.persistance/,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the PrometheusRule is generated from deploy/prometheus/alerts.yml and up to date', () => {
    expect(() =>
      execFileSync(
        process.execPath,
        [join(ROOT, 'scripts', 'write-prometheus-rule.js'), '--check'],
        {
          stdio: 'pipe',
        },
      ),
    ).not.toThrow();
    const rule = readFileSync(join(K8S, 'base', 'prometheus-rule.yaml'), 'utf8');
    const alerts = readFileSync(join(ROOT, 'deploy', 'prometheus', 'alerts.yml'), 'utf8');
    const names = [...alerts.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(rule).toContain(`alert: ${n}`);
  });
});
