import request from 'supertest';
import { hashToken } from '../../src/auth/api-key.service';
import { EventsService } from '../../src/events/events.service';
import { LiveGateway } from '../../src/gateway/live.gateway';
import { LiveTestClient } from '../support/live-client';
import { deletePrefix } from '../support/redis-cleanup';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../support/test-app';

const VIEWER_TOKEN = 'test-viewer-token-0123456789';
const AGENT_TOKEN = 'test-agent-token-0123456789';
const API_KEYS = JSON.stringify([
  { name: 'viewer', role: 'viewer', sha256: hashToken(VIEWER_TOKEN) },
  { name: 'agent:a1', role: 'agent', sha256: hashToken(AGENT_TOKEN), agentId: 'a1' },
]);

async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  const address = t.server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('live feed /v1/live (e2e)', () => {
  let t: TestApp;
  let url: string;
  let events: EventsService;
  const clients: LiveTestClient[] = [];
  const connect = async (options: Parameters<typeof LiveTestClient.connect>[1] = {}) => {
    const c = await LiveTestClient.connect(url, options);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestApp({
      SWITCHYARD_API_KEYS: API_KEYS,
      LIVE_AUTH_TIMEOUT_MS: '300',
      LIVE_MAX_BUFFERED_BYTES: '65536',
      LIVE_MAX_BUFFERED_EVENTS: '100',
      LIVE_SLOW_CLIENT_GRACE_MS: '300',
      LIVE_MAX_SUBSCRIPTIONS: '3',
    });
    url = await listen(t);
    events = t.app.get(EventsService);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
  });

  describe('authentication', () => {
    it('closes with 4401 on a bad bearer token', async () => {
      const c = await connect({ token: 'wrong-token-wrong-token' });
      const closed = await c.waitClosed();
      expect(closed.code).toBe(4401);
      expect(c.ofType('error')[0]).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(c.ofType('welcome')).toHaveLength(0);
    });

    it('closes with 4401 on a bad ?token=', async () => {
      const c = await connect({ query: '?token=nope-nope-nope' });
      expect((await c.waitClosed()).code).toBe(4401);
    });

    it('closes with 4401 when no token and no auth message arrive in time', async () => {
      const c = await connect();
      expect(await c.first('auth_required')).toMatchObject({ timeoutMs: 300 });
      c.send({ type: 'subscribe', filters: {} });
      expect(await c.next('error')).toMatchObject({ code: 'UNAUTHENTICATED' });
      const closed = await c.waitClosed();
      expect(closed.code).toBe(4401);
    });

    it('accepts a first {"type":"auth"} message (browsers)', async () => {
      const c = await connect();
      await c.first('auth_required');
      c.send({ type: 'auth', token: ADMIN_TOKEN });
      expect(await c.first('welcome')).toMatchObject({ role: 'admin', name: 'admin' });
    });

    it('lets a viewer (query token) subscribe and read, and nothing else', async () => {
      const c = await connect({ query: `?token=${VIEWER_TOKEN}` });
      const welcome = await c.first('welcome');
      expect(welcome).toMatchObject({ role: 'viewer' });
      expect(typeof welcome.connectionId).toBe('string');
      c.send({ type: 'subscribe', id: 'v', filters: { types: ['task.completed'] } });
      await c.first('subscribed');
      events.emit('task.completed', { taskId: 'tv1', workflowId: 'wv' });
      const [e] = (await c.waitFor(() => c.events().length === 1), c.events());
      expect(e.event).toMatchObject({ type: 'task.completed', taskId: 'tv1' });
      c.send({ type: 'cancel', taskId: 'tv1' });
      const err = await c.first('error');
      expect(err.code).toBe('UNSUPPORTED');
      expect(String(err.message)).toContain('read-only');
      expect(c.closed).toBeUndefined();
    });

    it('scopes an agent token to its own agent', async () => {
      const c = await connect({ token: AGENT_TOKEN });
      await c.first('welcome');
      c.send({ type: 'subscribe', id: 'other', filters: { agentId: 'a2' } });
      expect(await c.first('error')).toMatchObject({ code: 'FORBIDDEN' });
      c.send({ type: 'subscribe', id: 'mine', filters: {} });
      expect(await c.first('subscribed')).toMatchObject({ filters: { agentId: 'a1' } });
      events.emit('agent.status', { agentId: 'a2', data: { status: 'BUSY' } });
      events.emit('agent.status', { agentId: 'a1', data: { status: 'BUSY' } });
      await c.waitFor(() => c.events().length === 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(c.events().map((e) => e.event.agentId)).toEqual(['a1']);
    });
  });

  describe('protocol', () => {
    it('filters by workflow, task, agent, capability and type, with ordered sequence numbers', async () => {
      const c = await connect({ token: ADMIN_TOKEN });
      await c.first('welcome');
      c.send({ type: 'subscribe', id: 'wf', filters: { workflowId: 'w1' } });
      c.send({
        type: 'subscribe',
        id: 'done',
        filters: { types: ['task.completed', 'workflow.*'] },
      });
      c.send({ type: 'subscribe', id: 'cap', filters: { capability: 'docs', agentId: 'ag' } });
      await c.waitFor(() => c.ofType('subscribed').length === 3);

      events.emit('task.created', { taskId: 't1', workflowId: 'w1' });
      events.emit('task.created', { taskId: 't9', workflowId: 'w2' }); // matches nothing
      events.emit('task.running', {
        taskId: 't1',
        workflowId: 'w1',
        agentId: 'ag',
        capability: 'docs',
      });
      events.emit('task.completed', { taskId: 't8', workflowId: 'w2' });
      events.emit('task.running', { taskId: 't7', agentId: 'other', capability: 'docs' }); // no
      events.emit('workflow.completed', { workflowId: 'w1' });

      await c.waitFor(() => c.events().length === 4);
      await new Promise((r) => setTimeout(r, 50));
      const got = c.events();
      expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(
        got.map((e) => [e.event.type, e.event.taskId ?? e.event.workflowId, e.subscriptions]),
      ).toEqual([
        ['task.created', 't1', ['wf']],
        ['task.running', 't1', ['wf', 'cap']],
        ['task.completed', 't8', ['done']],
        ['workflow.completed', 'w1', ['wf', 'done']],
      ]);
      for (const e of got) {
        expect(typeof e.event.at).toBe('string');
        expect(typeof e.event.source).toBe('string');
      }
    });

    it('stops sending after unsubscribe', async () => {
      const c = await connect({ token: ADMIN_TOKEN });
      await c.first('welcome');
      c.send({ type: 'subscribe', filters: { taskId: 'tu' } });
      const sub = await c.first('subscribed');
      expect(sub.id).toBe('s1');
      events.emit('task.ready', { taskId: 'tu' });
      await c.waitFor(() => c.events().length === 1);
      c.send({ type: 'unsubscribe', id: 's1' });
      await c.first('unsubscribed');
      events.emit('task.running', { taskId: 'tu' });
      c.send({ type: 'ping' });
      await c.first('pong');
      expect(c.events()).toHaveLength(1);
      c.send({ type: 'unsubscribe', id: 's1' });
      expect(await c.first('error')).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('answers invalid messages with an error and keeps the connection', async () => {
      const c = await connect({ token: ADMIN_TOKEN });
      await c.first('welcome');
      c.send('not json');
      c.send({ type: 'subscribe', filters: { workflowId: 5, bogus: true } });
      c.send({ type: 'subscribe', filters: { types: ['task.exploded'] } });
      c.send([1, 2]);
      await c.waitFor(() => c.ofType('error').length === 4);
      const [notJson, badFields, badType, notObject] = c.ofType('error');
      expect(notJson).toMatchObject({ code: 'BAD_MESSAGE' });
      expect(badFields).toMatchObject({ code: 'VALIDATION_FAILED' });
      const fields = (badFields.details as { fields: { field: string }[] }).fields.map(
        (f) => f.field,
      );
      expect(fields).toEqual(expect.arrayContaining(['filters.workflowId', 'filters.bogus']));
      expect(JSON.stringify(badType)).toContain('filters.types.0');
      expect(notObject).toMatchObject({ code: 'VALIDATION_FAILED' });
      c.send({ type: 'subscribe', filters: {} });
      c.send({ type: 'subscribe', filters: {} });
      c.send({ type: 'subscribe', filters: {} });
      c.send({ type: 'subscribe', filters: {} });
      await c.waitFor(() => c.ofType('error').length === 5);
      expect(c.ofType('error')[4]).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS' });
      expect(c.closed).toBeUndefined();
    });
  });

  describe('slow clients', () => {
    it('cuts off a client that never reads without harming a reading one', async () => {
      const gateway = t.app.get(LiveGateway);
      const before = gateway.stats();
      const fast = await connect({ token: ADMIN_TOKEN });
      const slow = await connect({ token: ADMIN_TOKEN });
      for (const c of [fast, slow]) {
        await c.first('welcome');
        c.send({ type: 'subscribe', filters: { workflowId: 'flood' } });
        await c.first('subscribed');
      }
      // Stop reading: the kernel buffers fill, then the server-side buffer, then events drop.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const padding = 'x'.repeat(2048);
      let emitted = 0;
      while (gateway.stats().slowClientsClosed === before.slowClientsClosed && emitted < 40_000) {
        for (let i = 0; i < 100; i++) {
          events.emit('task.running', {
            taskId: `f${emitted++}`,
            workflowId: 'flood',
            data: { padding },
          });
        }
        await tick();
        await fast.waitFor(() => fast.events().length >= emitted - 2000, 10_000, 'fast client');
      }
      expect(gateway.stats().slowClientsClosed).toBe(before.slowClientsClosed + 1);
      expect(gateway.stats().eventsDropped).toBeGreaterThan(before.eventsDropped);

      // The reading client got every event, in order, without a drop.
      await fast.waitFor(() => fast.events().length === emitted, 15_000, 'all events');
      const seqs = fast.events().map((e) => e.seq);
      expect(seqs[0]).toBe(1);
      expect(seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1)).toBe(true);
      expect(fast.ofType('dropped')).toHaveLength(0);
      expect(fast.closed).toBeUndefined();

      const metrics = await request(t.server).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/^live_events_dropped_total [1-9]\d*$/m);
      expect(metrics.text).toMatch(/^live_clients_closed_total\{reason="slow_consumer"\} [1-9]/m);

      // The slow one is gone (it sees the close once it reads again).
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await slow.waitClosed(10_000);
    }, 60_000);
  });
});

describe('live feed heartbeat (e2e)', () => {
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    t = await startTestApp({ LIVE_PING_INTERVAL_MS: '150', LIVE_MAX_CLIENTS: '2' });
    await t.app.listen(0, '127.0.0.1');
    const address = t.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('terminates a client that does not answer pings, keeps one that does, and caps clients', async () => {
    const alive = await LiveTestClient.connect(url, { token: ADMIN_TOKEN });
    const dead = await LiveTestClient.connect(url, { token: ADMIN_TOKEN, autoPong: false });
    const extra = await LiveTestClient.connect(url, { token: ADMIN_TOKEN });
    try {
      expect((await extra.waitClosed()).code).toBe(1013);
      await dead.waitClosed(3000);
      expect(t.app.get(LiveGateway).stats().deadClientsTerminated).toBeGreaterThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 400));
      expect(alive.closed).toBeUndefined();
    } finally {
      for (const c of [alive, dead, extra]) c.close();
    }
  });
});
