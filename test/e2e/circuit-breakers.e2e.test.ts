import { spawn } from 'node:child_process';
import request from 'supertest';
import { hashToken } from '../../src/auth/api-key.service';
import { DiscoveryService } from '../../src/discovery/discovery.service';
import { EventsService } from '../../src/events/events.service';
import type { SwitchyardEvent } from '../../src/events/switchyard-event.type';
import { RedisService } from '../../src/redis/redis.service';
import { BreakerRegistry } from '../../src/resilience/breaker-registry.service';
import { deletePrefix } from '../support/redis-cleanup';
import { BIN, ensureBuilt } from '../support/processes';
import { ADMIN_TOKEN, auth, startTestApp, type TestApp } from '../support/test-app';

const VIEWER_TOKEN = 'test-viewer-token-0123456789';
const OPERATOR_TOKEN = 'test-operator-token-0123456789';
const AGENT_TOKEN = 'test-agent-token-0123456789';
const API_KEYS = JSON.stringify([
  { name: 'viewer', role: 'viewer', sha256: hashToken(VIEWER_TOKEN) },
  { name: 'ops', role: 'operator', sha256: hashToken(OPERATOR_TOKEN) },
  { name: 'agent:flaky', role: 'agent', sha256: hashToken(AGENT_TOKEN), agentId: 'flaky' },
]);

describe('circuit breakers /v1/circuit-breakers (e2e)', () => {
  let t: TestApp;
  let registry: BreakerRegistry;
  const events: SwitchyardEvent[] = [];

  const trip = async (agentId: string, times = 5) => {
    for (let i = 0; i < times; i++) {
      await registry
        .fire(agentId, () => Promise.reject(new Error('agent down')))
        .catch(() => undefined);
    }
  };

  beforeAll(async () => {
    t = await startTestApp({ SWITCHYARD_API_KEYS: API_KEYS, BREAKER_SYNC_INTERVAL_MS: '0' });
    registry = t.app.get(BreakerRegistry);
    t.app.get(EventsService).subscribe((e) => events.push(e));
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('lists every breaker with its state and counts', async () => {
    await trip('flaky');
    await registry.fire('steady', () => Promise.resolve(1));
    const res = await request(t.server)
      .get('/v1/circuit-breakers')
      .set(auth(VIEWER_TOKEN))
      .expect(200);
    expect(res.body.instanceId).toBe(registry.instanceId);
    expect(res.body.items).toEqual([
      expect.objectContaining({
        agentId: 'flaky',
        state: 'open',
        failures: 5,
        totalFailures: 5,
        threshold: 5,
        openedAt: expect.any(String),
        nextAttemptAt: expect.any(String),
      }),
      expect.objectContaining({ agentId: 'steady', state: 'closed', successes: 1, openedAt: null }),
    ]);
    const flaky = res.body.items[0] as { openedAt: string; nextAttemptAt: string };
    expect(Date.parse(flaky.nextAttemptAt) - Date.parse(flaky.openedAt)).toBe(60_000);
  });

  it('shows one breaker; a registered agent never called reports closed and untracked', async () => {
    const one = await request(t.server).get('/v1/circuit-breakers/flaky').set(auth()).expect(200);
    expect(one.body).toMatchObject({ agentId: 'flaky', state: 'open', tracked: true });
    await t.app
      .get(DiscoveryService)
      .register({ id: 'registered-idle', capabilities: ['idle'], maxLoad: 1 });
    const fresh = await request(t.server)
      .get('/v1/circuit-breakers/registered-idle')
      .set(auth())
      .expect(200);
    expect(fresh.body).toMatchObject({
      agentId: 'registered-idle',
      state: 'closed',
      tracked: false,
    });
  });

  it('answers 404 for an agent neither tracked nor registered: GET, and a reset creates nothing', async () => {
    const res = await request(t.server)
      .get('/v1/circuit-breakers/never-seen')
      .set(auth())
      .expect(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(res.body.error.message).toMatch(/never-seen/);
    await request(t.server)
      .post('/v1/circuit-breakers/never-seen/reset')
      .set(auth(OPERATOR_TOKEN))
      .expect(404);
    expect(registry.isTracked('never-seen')).toBe(false);
    const metrics = await request(t.server).get('/metrics').expect(200);
    expect(metrics.text).not.toMatch(/circuit_breaker_state\{agent="never-seen"\}/);
  });

  it('the CLI `circuit-breaker status <unknown>` exits 6 (not found)', async () => {
    await t.app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
    await ensureBuilt();
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'circuit-breaker', 'status', 'never-seen'], {
        env: { PATH: process.env.PATH ?? '', SWITCHYARD_URL: url, SWITCHYARD_TOKEN: ADMIN_TOKEN },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/never-seen/);
    const known = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'circuit-breaker', 'status', 'flaky'], {
        env: { PATH: process.env.PATH ?? '', SWITCHYARD_URL: url, SWITCHYARD_TOKEN: ADMIN_TOKEN },
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    expect(known).toBe(0);
  }, 120_000);

  it('answers 400 naming the field for a malformed agent id', async () => {
    const res = await request(t.server)
      .get(`/v1/circuit-breakers/${encodeURIComponent('bad id!')}`)
      .set(auth())
      .expect(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.fields[0].field).toBe('agentId');
    await request(t.server)
      .post('/v1/circuit-breakers/-leading-dash/reset')
      .set(auth())
      .expect(400);
  });

  it('refuses a reset to viewers (403) and agent tokens (403), and without a token (401)', async () => {
    const viewer = await request(t.server)
      .post('/v1/circuit-breakers/flaky/reset')
      .set(auth(VIEWER_TOKEN))
      .expect(403);
    expect(viewer.body.error.code).toBe('FORBIDDEN');
    await request(t.server)
      .post('/v1/circuit-breakers/flaky/reset')
      .set(auth(AGENT_TOKEN))
      .expect(403);
    await request(t.server).post('/v1/circuit-breakers/flaky/reset').expect(401);
    expect(registry.state('flaky')).toBe('open');
  });

  it('resets for an operator: closed, failures cleared, event and Redis record written', async () => {
    const res = await request(t.server)
      .post('/v1/circuit-breakers/flaky/reset')
      .set(auth(OPERATOR_TOKEN))
      .expect(200);
    expect(res.body).toMatchObject({
      agentId: 'flaky',
      state: 'closed',
      failures: 0,
      nextAttemptAt: null,
    });
    expect(registry.canDispatch('flaky')).toBe(true);
    expect(events.filter((e) => e.agentId === 'flaky').map((e) => e.type)).toEqual([
      'breaker.opened',
      'breaker.closed',
    ]);
    await registry.whenIdle();
    const stored = await t.app.get(RedisService).client.get(`${t.prefix}breaker:flaky`);
    expect(JSON.parse(stored ?? '{}')).toMatchObject({ state: 'closed', reason: 'reset' });
  });

  it('exports circuit_breaker_state per agent', async () => {
    await trip('gauge-agent');
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.text).toMatch(/circuit_breaker_state\{agent="gauge-agent"\} 2/);
    expect(res.text).toMatch(/circuit_breaker_state\{agent="flaky"\} 0/);
  });
});
