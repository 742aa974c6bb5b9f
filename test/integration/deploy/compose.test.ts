import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { composeSchema, interpolated, templateVars } from '../../support/compose-spec';

const ROOT = join(__dirname, '..', '..', '..');
const DOCKER = join(ROOT, 'docker');
const COMPOSE_FILE = join(DOCKER, 'docker-compose.yml');
const TEMPLATE = join(DOCKER, '.env.template');
const OBSERVABILITY_OWNED = /^\.\.\/deploy\/(prometheus|alertmanager|grafana|loki)\//;

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  read_only?: boolean;
  [key: string]: unknown;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const text = readFileSync(COMPOSE_FILE, 'utf8');
// `merge: true` resolves the `<<: *anchor` keys the way docker compose does.
const compose = parse(text, { merge: true }) as Compose;
const services = compose.services;

describe('docker/docker-compose.yml', () => {
  it('is valid against the compose-spec JSON schema', () => {
    const validate = composeSchema();
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // ...and it does refuse a broken file.
    const broken = { services: { x: { image: 'a:1', restart: 'always', bogus: 1, ports: {} } } };
    expect(validate(broken)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('bogus');
  });

  it('refers only to services, volumes and files that exist', () => {
    const declaredVolumes = new Set(Object.keys(compose.volumes ?? {}));
    const problems: string[] = [];
    for (const [name, svc] of Object.entries(services)) {
      const deps = Array.isArray(svc.depends_on)
        ? svc.depends_on
        : Object.keys(svc.depends_on ?? {});
      for (const d of deps) if (!services[d]) problems.push(`${name}: depends_on unknown ${d}`);
      for (const v of svc.volumes ?? []) {
        const source = v.split(':')[0];
        if (source.startsWith('.') || isAbsolute(source)) {
          const path = isAbsolute(source) ? source : resolve(DOCKER, source);
          // Host paths outside the repository (the Docker socket) are the host's business.
          if (path.startsWith(ROOT) && !existsSync(path)) {
            if (OBSERVABILITY_OWNED.test(source) && !existsSync(join(ROOT, 'deploy', 'grafana'))) {
              // Written by the observability work in parallel; checked once both are merged.
              console.warn(`NOT CHECKED ${name}: ${source} is not in this tree yet`);
            } else problems.push(`${name}: bind mount ${source} does not exist`);
          }
        } else if (!declaredVolumes.has(source)) {
          problems.push(`${name}: volume ${source} is not declared`);
        }
      }
      if (!svc.image && !svc.build) problems.push(`${name}: neither image nor build`);
      if (svc.image && !svc.build && (/:latest$/.test(svc.image) || !svc.image.includes(':')))
        problems.push(`${name}: image ${svc.image} is not pinned to a version`);
    }
    expect(problems).toEqual([]);
  });

  it('runs the stack the plan asks for, and no idle PostgreSQL', () => {
    for (const s of [
      'redis',
      'rabbitmq',
      'minio',
      'minio-init',
      'control-plane',
      'proxy',
      'worker',
      'prometheus',
      'alertmanager',
      'grafana',
      'jaeger',
      'loki',
      'promtail',
    ])
      expect(Object.keys(services)).toContain(s);
    expect(Object.values(services).some((s) => /postgres/i.test(s.image ?? ''))).toBe(false);
    expect(services['control-plane'].deploy?.replicas).toBe(2);
    expect(services.worker.deploy?.replicas).toBe(2);
    const redisCmd = (services.redis.command as string[]).join(' ');
    expect(redisCmd).toContain('--appendonly yes');
    expect(redisCmd).toContain('--maxmemory-policy noeviction');
    expect(services.rabbitmq.image).toMatch(/management/);
    // The bucket is created before any control plane starts.
    expect(String(services['minio-init'].command)).toContain('mc mb --ignore-existing');
    expect(services['control-plane'].depends_on).toMatchObject({
      'minio-init': { condition: 'service_completed_successfully' },
    });
    expect(services.jaeger.environment?.COLLECTOR_OTLP_ENABLED).toBe('true');
    expect(services['control-plane'].environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(
      'http://jaeger:4318',
    );
  });

  it('gives workers an agent-scoped key and never the admin token', () => {
    const workerEnv = services.worker.environment ?? {};
    expect(Object.keys(workerEnv)).not.toContain('SWITCHYARD_ADMIN_TOKEN');
    expect(JSON.stringify(workerEnv)).not.toContain('SWITCHYARD_ADMIN_TOKEN');
    expect(workerEnv.SWITCHYARD_TOKEN).toContain('SWITCHYARD_WORKER_TOKEN');
    const keys = services['control-plane'].environment?.SWITCHYARD_API_KEYS ?? '';
    expect(keys).toContain('"role":"agent"');
    expect(keys).toContain('SWITCHYARD_WORKER_TOKEN_SHA256');
    expect(workerEnv.WORKER_HTTP_PORT).toBe('9464');
    for (const s of ['control-plane', 'worker']) {
      expect(services[s].read_only).toBe(true);
      expect(services[s].cap_drop).toEqual(['ALL']);
    }
  });

  it('takes every secret from docker/.env, whose template documents each variable', () => {
    const template = templateVars(TEMPLATE);
    const missing = [...interpolated(text)].filter((v) => !template.has(v));
    expect(missing).toEqual([]);
    expect(services['control-plane'].env_file).toBeUndefined();
    // Secrets are placeholders to replace, never working defaults.
    for (const v of ['SWITCHYARD_ADMIN_TOKEN', 'REDIS_PASSWORD', 'RABBITMQ_PASSWORD'])
      expect(template.get(v)).toMatch(/^CHANGE-ME/);
  });

  it('mounts the observability configuration where those files say they expect it', () => {
    const mounts = (s: string) => services[s].volumes ?? [];
    expect(mounts('prometheus')).toContain(
      '../deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
    );
    expect(mounts('prometheus')).toContain(
      '../deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
    );
    expect(mounts('alertmanager')).toContain(
      '../deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro',
    );
    expect(mounts('grafana')).toContain(
      '../deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
    );
    expect(mounts('promtail')).toContain('../deploy/loki/promtail.yml:/etc/promtail/config.yml:ro');
    // Loki runs our config, whose ruler reads the log-based alerts from the mounted rules dir.
    expect(mounts('loki')).toContain('../deploy/loki/loki.yml:/etc/loki/config.yml:ro');
    expect(mounts('loki')).toContain('../deploy/loki/rules:/etc/loki/rules:ro');
    expect(services.loki.command).toEqual(['-config.file=/etc/loki/config.yml']);
    const loki = parse(readFileSync(join(ROOT, 'deploy', 'loki', 'loki.yml'), 'utf8')) as {
      auth_enabled: boolean;
      ruler: { storage: { local: { directory: string } }; alertmanager_url: string };
    };
    expect(loki.ruler.storage.local.directory).toBe('/etc/loki/rules');
    expect(loki.ruler.alertmanager_url).toBe('http://alertmanager:9093');
    // Single tenant: the ruler's tenant is "fake", so the rules live in rules/fake/.
    expect(loki.auth_enabled).toBe(false);
    expect(existsSync(join(ROOT, 'deploy', 'loki', 'rules', 'fake'))).toBe(true);
  });

  it('is accepted by `docker compose config` (with a .env made from the template)', () => {
    // podman-compose is no substitute: Debian's 1.0.3 has no `config` command, and its --dry-run
    // still creates volumes and networks.
    const probe = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.warn(
        'SKIPPED docker compose config: no `docker compose` plugin here; the schema and reference checks above ran',
      );
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sy-compose-'));
    try {
      const env = join(dir, '.env');
      writeFileSync(env, readFileSync(TEMPLATE, 'utf8'));
      const out = execFileSync(
        'docker',
        ['compose', '--env-file', env, '-f', COMPOSE_FILE, 'config'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 60_000,
        },
      );
      const rendered = parse(out) as Compose;
      expect(Object.keys(rendered.services)).toEqual(expect.arrayContaining(Object.keys(services)));
      expect(out).toContain('redis://:CHANGE-ME-redis-password@redis:6379');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
