// docker/docker-compose.ha.yml (the HA override of docker/docker-compose.yml), checked without a
// container engine: the override and the merged stack against the compose-spec schema, every
// reference, and the HA wiring (Sentinel quorum and master name, the RabbitMQ cluster's peer list,
// shared cookie, and that control planes and workers are pointed at all of it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import {
  composeSchema,
  interpolated,
  mergeCompose,
  templateVars,
} from '../../support/compose-spec';

const ROOT = join(__dirname, '..', '..', '..');
const DOCKER = join(ROOT, 'docker');
const BASE_FILE = join(DOCKER, 'docker-compose.yml');
const HA_FILE = join(DOCKER, 'docker-compose.ha.yml');
const TEMPLATE = join(DOCKER, '.env.template');

interface Service {
  image?: string;
  build?: unknown;
  hostname?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  [key: string]: unknown;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const haText = readFileSync(HA_FILE, 'utf8');
const ha = parse(haText, { merge: true }) as Compose;
const merged = mergeCompose(parse(readFileSync(BASE_FILE, 'utf8'), { merge: true }), ha) as Compose;
const services = merged.services;
const command = (s: string) => [services[s].command ?? []].flat().join(' ');

describe('docker/docker-compose.ha.yml', () => {
  it('is valid compose on its own and merged onto the base', () => {
    const validate = composeSchema();
    for (const file of [ha, merged]) {
      validate(file);
      expect(validate.errors ?? []).toEqual([]);
    }
  });

  it('refers only to services, volumes and files that exist', () => {
    const problems: string[] = [];
    const volumes = new Set(Object.keys(merged.volumes ?? {}));
    for (const [name, svc] of Object.entries(services)) {
      const deps = Array.isArray(svc.depends_on)
        ? svc.depends_on
        : Object.keys(svc.depends_on ?? {});
      for (const d of deps) if (!services[d]) problems.push(`${name}: depends_on unknown ${d}`);
      if (!svc.image && !svc.build) problems.push(`${name}: neither image nor build`);
      for (const v of svc.volumes ?? []) {
        const source = v.split(':')[0];
        if (source.startsWith('.')) {
          if (!existsSync(resolve(DOCKER, source))) problems.push(`${name}: ${source} missing`);
        } else if (!source.startsWith('/') && !volumes.has(source)) {
          problems.push(`${name}: volume ${source} is not declared`);
        }
      }
    }
    expect(problems).toEqual([]);
    const mine = Object.entries(ha.services).filter(
      ([n]) => !['control-plane', 'worker'].includes(n),
    );
    for (const [name, svc] of mine) expect(`${name} ${svc.image ?? ''}`).toMatch(/:\d/);
  });

  it('runs a Redis master, a replica and three Sentinels with a majority quorum', () => {
    expect(command('redis-replica')).toMatch(/--replicaof redis 6379/);
    for (const node of ['redis', 'redis-replica']) {
      // Either node can be master after a failover: both need the password as a replica too.
      expect(command(node)).toContain('--masterauth');
      expect(command(node)).toContain('--maxmemory-policy noeviction');
    }
    const sentinels = Object.keys(services).filter((s) => s.startsWith('redis-sentinel-'));
    expect(sentinels).toHaveLength(3);
    for (const s of sentinels) {
      expect(command(s)).toContain("'sentinel monitor switchyard redis 6379 2'");
      expect(command(s)).toContain('--sentinel');
    }
    for (const role of ['control-plane', 'worker']) {
      const env = services[role].environment ?? {};
      expect(env.REDIS_SENTINEL_NAME).toBe('switchyard');
      expect(env.REDIS_SENTINELS.split(',').sort()).toEqual(
        sentinels.map((s) => `${s}:26379`).sort(),
      );
      expect(env.REDIS_MIN_REPLICAS_ACK).toBe('1');
      for (const s of sentinels) expect(services[role].depends_on).toHaveProperty(s);
    }
  });

  it('runs a three-node RabbitMQ cluster the control planes and workers all know', () => {
    const nodes = Object.keys(services).filter((s) => /^rabbitmq(-\d)?$/.test(s));
    expect(nodes).toHaveLength(3);
    const conf = readFileSync(join(DOCKER, 'rabbitmq-cluster.conf'), 'utf8');
    expect(conf).toContain('cluster_formation.peer_discovery_backend = classic_config');
    for (const n of nodes) {
      const svc = services[n];
      expect(svc.hostname).toBe(n);
      expect(conf).toContain(`= rabbit@${n}\n`);
      expect(svc.environment?.RABBITMQ_ERLANG_COOKIE).toMatch(/RABBITMQ_ERLANG_COOKIE/);
      expect(svc.volumes).toContain(
        './rabbitmq-cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro',
      );
    }
    // One data volume per node.
    const data = nodes.map((n) =>
      (services[n].volumes ?? []).find((v) => v.endsWith(':/var/lib/rabbitmq')),
    );
    expect(new Set(data).size).toBe(3);
    for (const role of ['control-plane', 'worker']) {
      // AMQP_URL and AMQP_URLS exclude each other: the base's single URL is emptied.
      expect(services[role].environment?.AMQP_URL).toBe('');
      expect(services[role].environment?.AMQP_QUEUE_TYPE).toBe('quorum');
      const urls = (services[role].environment?.AMQP_URLS ?? '').split(',');
      expect(urls.map((u) => new URL(u).host).sort()).toEqual(nodes.map((n) => `${n}:5672`).sort());
    }
  });

  it('takes every secret from docker/.env, whose template documents each variable', () => {
    const template = templateVars(TEMPLATE);
    expect([...interpolated(haText)].filter((v) => !template.has(v))).toEqual([]);
    expect(template.get('RABBITMQ_ERLANG_COOKIE')).toMatch(/^CHANGE-ME/);
  });

  it('is accepted by `docker compose config` with the base (with a .env made from the template)', () => {
    const probe = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.warn(
        'SKIPPED docker compose config: no `docker compose` plugin here; the schema, reference and wiring checks above ran',
      );
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sy-compose-ha-'));
    try {
      const env = join(dir, '.env');
      writeFileSync(env, readFileSync(TEMPLATE, 'utf8'));
      const out = execFileSync(
        'docker',
        ['compose', '--env-file', env, '-f', BASE_FILE, '-f', HA_FILE, 'config'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
      );
      const rendered = parse(out) as Compose;
      expect(Object.keys(rendered.services)).toEqual(expect.arrayContaining(Object.keys(services)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
