import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { hashToken } from '../../src/auth/api-key.service';
import type { SwitchyardEvent } from '../../src/events/switchyard-event.type';
import { EventsService } from '../../src/events/events.service';
import { deletePrefix } from '../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../support/test-app';

const AGENT_TOKEN = 'agent-token-for-reviewer-0123456789';
const VIEWER_TOKEN = 'viewer-token-0123456789-0123456789';
const API_KEYS = JSON.stringify([
  {
    name: 'agent:reviewer',
    role: 'agent',
    sha256: hashToken(AGENT_TOKEN),
    agentId: 'reviewer',
    capabilities: ['review'],
  },
  { name: 'viewer', role: 'viewer', sha256: hashToken(VIEWER_TOKEN) },
]);

describe('discovery REST API (e2e)', () => {
  let t: TestApp;
  const events: SwitchyardEvent[] = [];

  beforeAll(async () => {
    t = await startTestApp({ SWITCHYARD_API_KEYS: API_KEYS, DISCOVERY_MIN_HEALTH_SCORE: '0.5' });
    t.app.get(EventsService).subscribe((e) => events.push(e));
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
  });

  const post = (path: string, body: object, token?: string) =>
    request(t.server).post(path).set(auth(token)).send(body);

  it('registers (201, then 200 when the id exists), gets and lists an agent', async () => {
    const body = { id: 'coder', capabilities: ['code', 'read'], maxLoad: 2, healthScore: 0.9 };
    const created = await post('/v1/agents', body).expect(201);
    expect(created.body).toMatchObject({ id: 'coder', status: 'AVAILABLE', load: 0, maxLoad: 2 });
    expect(Date.parse(created.body.expiresAt)).toBeGreaterThan(Date.now() + 290_000);
    const again = await post('/v1/agents', { ...body, description: 'writes code' }).expect(200);
    expect(again.body.description).toBe('writes code');
    expect(again.body.registeredAt).toBe(created.body.registeredAt);
    const got = await request(t.server).get('/v1/agents/coder').set(auth()).expect(200);
    expect(got.body).toMatchObject({ id: 'coder', capabilities: ['code', 'read'] });
    const list = await request(t.server).get('/v1/agents?capability=code').set(auth()).expect(200);
    expect(list.body).toEqual({ items: [got.body], nextCursor: null });
    expect(events.map((e) => [e.type, e.agentId])).toContainEqual(['agent.registered', 'coder']);
  });

  it('finds by capability least loaded first with filters (sort=load)', async () => {
    await post('/v1/agents', { id: 'busy', capabilities: ['qa'], maxLoad: 4, load: 3 }).expect(201);
    await post('/v1/agents', { id: 'idle', capabilities: ['qa'], maxLoad: 4, load: 0 }).expect(201);
    await post('/v1/agents', { id: 'sick', capabilities: ['qa'], healthScore: 0.1 }).expect(201);
    const find = (qs: string) =>
      request(t.server)
        .get(`/v1/agents?capability=qa&sort=load${qs}`)
        .set(auth())
        .expect(200)
        .then((r) => (r.body.items as { id: string }[]).map((a) => a.id));
    expect(await find('')).toEqual(['idle', 'busy']);
    expect(await find('&maxLoadRatio=0.5')).toEqual(['idle']);
    expect(await find('&minHealthScore=0')).toEqual(['idle', 'sick', 'busy']);
    expect(await find('&minHealthScore=0&limit=1')).toEqual(['idle']);
    expect(await find('&status=DRAINING,OFFLINE')).toEqual([]);
  });

  it('paginates GET /v1/agents with a cursor and filters by status', async () => {
    for (const id of ['p1', 'p2', 'p3']) {
      await post('/v1/agents', { id, capabilities: ['page'], status: 'OFFLINE' }).expect(201);
    }
    const first = await request(t.server)
      .get('/v1/agents?status=OFFLINE&limit=2')
      .set(auth())
      .expect(200);
    expect(first.body.items.map((a: { id: string }) => a.id)).toEqual(['p1', 'p2']);
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await request(t.server)
      .get(`/v1/agents?status=OFFLINE&limit=2&cursor=${first.body.nextCursor}`)
      .set(auth())
      .expect(200);
    expect(second.body).toMatchObject({ items: [{ id: 'p3' }], nextCursor: null });
  });

  it('heartbeats: updates status/load/health and emits agent.status', async () => {
    await post('/v1/agents', { id: 'hb', capabilities: ['x'], maxLoad: 5 }).expect(201);
    const res = await post('/v1/agents/hb/heartbeat', {
      status: 'BUSY',
      load: 2,
      healthScore: 0.75,
    }).expect(200);
    expect(res.body).toMatchObject({ status: 'BUSY', load: 2, maxLoad: 5, healthScore: 0.75 });
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'agent.status',
        agentId: 'hb',
        data: expect.objectContaining({ from: 'AVAILABLE', to: 'BUSY' }),
      }),
    );
    await post('/v1/agents/hb/heartbeat', {}).expect(200);
  });

  it('lists capabilities with agent counts', async () => {
    const res = await request(t.server).get('/v1/capabilities').set(auth()).expect(200);
    expect(res.body.items).toContainEqual({ name: 'qa', agents: 3, available: 3 });
    expect(res.body.items).toContainEqual({ name: 'page', agents: 3, available: 0 });
  });

  it('deregisters (204) and then answers 404 everywhere', async () => {
    await post('/v1/agents', { id: 'bye', capabilities: ['bye'] }).expect(201);
    await request(t.server).delete('/v1/agents/bye').set(auth()).expect(204);
    const gone = await request(t.server).get('/v1/agents/bye').set(auth()).expect(404);
    expect(gone.body.error).toMatchObject({ code: 'NOT_FOUND', details: { agent: 'bye' } });
    await request(t.server).delete('/v1/agents/bye').set(auth()).expect(404);
    const hb = await post('/v1/agents/bye/heartbeat', {}).expect(404);
    expect(hb.body.error.message).toContain('register it again');
    const caps = await request(t.server).get('/v1/capabilities').set(auth()).expect(200);
    expect(caps.body.items.map((c: { name: string }) => c.name)).not.toContain('bye');
    expect(events.map((e) => [e.type, e.agentId])).toContainEqual(['agent.deregistered', 'bye']);
  });

  describe('bad input answers 400 naming the field', () => {
    const fieldsOf = (res: request.Response) =>
      (res.body.error.details.fields as { field: string }[]).map((f) => f.field);

    it.each([
      [{ id: 'a', capabilities: ['x'], healthScore: 1.5 }, 'healthScore'],
      [{ id: 'a', capabilities: ['x'], healthScore: 'high' }, 'healthScore'],
      [{ id: 'a', capabilities: ['x'], surprise: true }, 'surprise'],
      [{ id: 'a', capabilities: [] }, 'capabilities'],
      [{ id: 'a', capabilities: ['bad name'] }, 'capabilities.0'],
      [{ id: 'no spaces', capabilities: ['x'] }, 'id'],
      [{ capabilities: ['x'] }, 'id'],
      [{ id: 'a', capabilities: ['x'], maxLoad: 0 }, 'maxLoad'],
      [{ id: 'a', capabilities: ['x'], load: -1 }, 'load'],
      [{ id: 'a', capabilities: ['x'], status: 'SLEEPING' }, 'status'],
      [{ id: 'a', capabilities: ['x'], metadata: { n: 1 } }, 'metadata.n'],
    ])('POST /v1/agents %j → 400 on %s', async (body, field) => {
      const res = await post('/v1/agents', body).expect(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(fieldsOf(res)).toContain(field);
    });

    it('heartbeat with a bad health score or an unknown field', async () => {
      await post('/v1/agents', { id: 'val', capabilities: ['x'] }).expect(201);
      expect(
        fieldsOf(await post('/v1/agents/val/heartbeat', { healthScore: -0.1 }).expect(400)),
      ).toEqual(['healthScore']);
      expect(fieldsOf(await post('/v1/agents/val/heartbeat', { mood: 'ok' }).expect(400))).toEqual([
        'mood',
      ]);
    });

    it.each([
      ['minHealthScore=2', 'minHealthScore'],
      ['maxLoadRatio=-1', 'maxLoadRatio'],
      ['status=NAPPING', 'status.0'],
      ['sort=load', 'capability'],
      ['sort=load&capability=x&cursor=abc', 'cursor'],
      ['limit=0', 'limit'],
      ['color=blue', 'color'],
      ['cursor=!!!', 'cursor'],
    ])('GET /v1/agents?%s → 400 on %s', async (qs, field) => {
      const res = await request(t.server).get(`/v1/agents?${qs}`).set(auth()).expect(400);
      expect(fieldsOf(res)).toContain(field);
    });

    it('a malformed id in the path', async () => {
      const res = await request(t.server).get('/v1/agents/bad%20id').set(auth()).expect(400);
      expect(fieldsOf(res)).toEqual(['id']);
    });
  });

  describe('auth', () => {
    it('an agent token registers, heartbeats, reads and deregisters only its own id', async () => {
      const reg = { id: 'reviewer', capabilities: ['review'] };
      await post('/v1/agents', reg, AGENT_TOKEN).expect(201);
      await post('/v1/agents/reviewer/heartbeat', { load: 0 }, AGENT_TOKEN).expect(200);
      await request(t.server).get('/v1/agents/reviewer').set(auth(AGENT_TOKEN)).expect(200);

      const other = await post(
        '/v1/agents',
        { id: 'coder', capabilities: ['x'] },
        AGENT_TOKEN,
      ).expect(403);
      expect(other.body.error.code).toBe('FORBIDDEN');
      await post('/v1/agents/coder/heartbeat', {}, AGENT_TOKEN).expect(403);
      await request(t.server).delete('/v1/agents/coder').set(auth(AGENT_TOKEN)).expect(403);
      await request(t.server).get('/v1/agents/coder').set(auth(AGENT_TOKEN)).expect(403);
      await request(t.server).get('/v1/agents').set(auth(AGENT_TOKEN)).expect(403);
      await request(t.server).get('/v1/capabilities').set(auth(AGENT_TOKEN)).expect(403);

      await request(t.server).delete('/v1/agents/reviewer').set(auth(AGENT_TOKEN)).expect(204);
    });

    it('a viewer reads but cannot write', async () => {
      await request(t.server).get('/v1/agents').set(auth(VIEWER_TOKEN)).expect(200);
      await request(t.server).get('/v1/agents/coder').set(auth(VIEWER_TOKEN)).expect(200);
      await request(t.server).get('/v1/capabilities').set(auth(VIEWER_TOKEN)).expect(200);
      const res = await post('/v1/agents', { id: 'v', capabilities: ['x'] }, VIEWER_TOKEN).expect(
        403,
      );
      expect(res.body.error.code).toBe('FORBIDDEN');
      await post('/v1/agents/coder/heartbeat', {}, VIEWER_TOKEN).expect(403);
      await request(t.server).delete('/v1/agents/coder').set(auth(VIEWER_TOKEN)).expect(403);
    });

    it('no token is 401', async () => {
      await request(t.server).get('/v1/agents').expect(401);
      await request(t.server)
        .post('/v1/agents')
        .send({ id: 'x', capabilities: ['x'] })
        .expect(401);
    });
  });

  it('documents the routes in OpenAPI', async () => {
    const spec = await request(t.server).get('/docs-json').expect(200);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/agents',
        '/v1/agents/{id}',
        '/v1/agents/{id}/heartbeat',
        '/v1/capabilities',
      ]),
    );
  });
});

describe('discovery with AGENTS_DIR (e2e)', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-disc-agents-'));
    const agent = (name: string, extra = '') =>
      `---\nname: ${name}\ndescription: The ${name} agent\ntools: Read, Grep\n${extra}---\nYou are ${name}.\n`;
    writeFileSync(join(dir, 'code-reviewer.md'), agent('code-reviewer', 'maxConcurrency: 3\n'));
    writeFileSync(join(dir, 'tester.md'), agent('tester', 'capabilities: [test, qa]\n'));
    writeFileSync(join(dir, 'notes.md'), 'no front matter here\n');
    t = await startTestApp({ AGENTS_DIR: dir, DISCOVERY_HEARTBEAT_TTL_SECONDS: '3' });
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers every agent file at startup as a static registration', async () => {
    const res = await request(t.server).get('/v1/agents').set(auth()).expect(200);
    const byId = Object.fromEntries((res.body.items as { id: string }[]).map((a) => [a.id, a]));
    expect(Object.keys(byId).sort()).toEqual(['code-reviewer', 'tester']);
    expect(byId['code-reviewer']).toMatchObject({
      maxLoad: 3,
      description: 'The code-reviewer agent',
      metadata: { source: 'file', file: 'code-reviewer.md' },
    });
    expect(byId.tester).toMatchObject({ capabilities: expect.arrayContaining(['test', 'qa']) });
  });

  it('keeps static agents alive past their TTL with its own heartbeat', async () => {
    const before = await request(t.server).get('/v1/agents/tester').set(auth()).expect(200);
    await new Promise((r) => setTimeout(r, 3500));
    const after = await request(t.server).get('/v1/agents/tester').set(auth()).expect(200);
    expect(Date.parse(after.body.lastHeartbeatAt)).toBeGreaterThan(
      Date.parse(before.body.lastHeartbeatAt),
    );
  });
});

describe('discovery with Redis down (e2e)', () => {
  let t: TestApp;
  let dir: string;
  let bootMs = 0;

  beforeAll(async () => {
    // AGENTS_DIR too: registering the static agents must not hold startup while Redis is down.
    dir = mkdtempSync(join(tmpdir(), 'sy-disc-down-'));
    writeFileSync(join(dir, 'a.md'), '---\nname: lonely\ndescription: x\n---\nHi.\n');
    const started = Date.now();
    t = await startTestApp({
      REDIS_URL: 'redis://127.0.0.1:1',
      REDIS_COMMAND_TIMEOUT_MS: '500',
      AGENTS_DIR: dir,
    });
    bootMs = Date.now() - started;
  }, 20_000);

  afterAll(async () => {
    // Bounded: closing must not depend on Redis, but a module that waits for it on shutdown
    // (seen: OrchestratorService.onModuleDestroy) must not turn this discovery test red.
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      t.close().then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), 10_000))),
    ]);
    clearTimeout(timer);
    if (!closed) console.warn('app.close() with Redis down did not finish within 10 s');
    rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it('boots, and answers 503 DEPENDENCY_UNAVAILABLE instead of crashing', async () => {
    expect(bootMs).toBeLessThan(15_000);
    for (const req of [
      request(t.server).get('/v1/agents').set(auth()),
      request(t.server).get('/v1/agents/someone').set(auth()),
      request(t.server).get('/v1/capabilities').set(auth()),
      request(t.server)
        .post('/v1/agents')
        .set(auth())
        .send({ id: 'a', capabilities: ['x'] }),
    ]) {
      const res = await req.expect(503);
      expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
    }
    await request(t.server).get('/health/live').expect(200);
  });
});
