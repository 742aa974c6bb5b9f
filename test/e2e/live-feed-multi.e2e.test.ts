import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { EventsService } from '../../src/events/events.service';
import { LiveFanoutService } from '../../src/gateway/live-fanout.service';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import { LiveTestClient } from '../support/live-client';
import { deletePrefix } from '../support/redis-cleanup';
import { ADMIN_TOKEN, auth, startTestApp, type TestApp, uniquePrefix } from '../support/test-app';

async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
}

/**
 * Two control-plane instances sharing Redis and RabbitMQ (own key prefix and bus namespace):
 * events emitted on either reach WebSocket clients on both, in order, over the bus.
 */
describe('live feed across two instances (e2e, RabbitMQ)', () => {
  const prefix = uniquePrefix('live2');
  const env = {
    BUS_TRANSPORT: 'rabbitmq',
    BUS_NAMESPACE: `live2-${randomBytes(4).toString('hex')}`,
    REDIS_KEY_PREFIX: prefix,
    ORCHESTRATOR_ENABLED: 'false',
  };
  let a: TestApp;
  let b: TestApp;
  let urlA: string;
  let urlB: string;
  const clients: LiveTestClient[] = [];

  beforeAll(async () => {
    a = await startTestApp({ ...env, LIVE_INSTANCE_ID: 'cp-a' });
    b = await startTestApp({ ...env, LIVE_INSTANCE_ID: 'cp-b' });
    urlA = await listen(a);
    urlB = await listen(b);
    await Promise.all([a.app.get(LiveFanoutService).ready, b.app.get(LiveFanoutService).ready]);
    expect(a.app.get(LiveFanoutService).enabled).toBe(true);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await a?.close();
    await b?.close();
    await deletePrefix(prefix);
  });

  it('publishes nothing on the bus while no instance has a client, and starts with the first one', async () => {
    const fanA = a.app.get(LiveFanoutService);
    const fanB = b.app.get(LiveFanoutService);
    const sentBefore = fanA.counters.sent;
    const events = a.app.get(EventsService);
    for (let i = 0; i < 10; i++)
      events.emit('task.ready', { workflowId: 'quiet-wf', taskId: `q${i}` });
    const skipped = () => fanA.counters.skipped;
    const deadline = Date.now() + 5_000;
    while (skipped() < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(skipped()).toBeGreaterThanOrEqual(10);
    expect(fanA.counters.sent).toBe(sentBefore);
    expect(fanB.counters.received).toBe(0);

    // A client on B: from its `subscribed` on, A's events reach it (the first batch included).
    const onB = await LiveTestClient.connect(urlB, { token: ADMIN_TOKEN });
    await onB.first('welcome');
    onB.send({ type: 'subscribe', id: 'q', filters: { workflowId: 'quiet-wf' } });
    await onB.first('subscribed');
    events.emit('task.running', { workflowId: 'quiet-wf', taskId: 'q0' });
    await onB.waitFor(() => onB.events().length >= 1, 10_000, 'the first event after subscribing');
    expect(onB.events().map((e) => e.event.type)).toEqual(['task.running']);
    onB.close();
  }, 30_000);

  it('delivers every event of a workflow run on A to clients on A and B, in order', async () => {
    const onA = await LiveTestClient.connect(urlA, { token: ADMIN_TOKEN });
    const onB = await LiveTestClient.connect(urlB, { token: ADMIN_TOKEN });
    clients.push(onA, onB);
    for (const c of [onA, onB]) {
      await c.first('welcome');
      c.send({ type: 'subscribe', id: 'wf', filters: { workflowId: 'multi-wf' } });
      await c.first('subscribed');
    }
    expect((await onB.first('welcome')).instanceId).toBe('cp-b');

    const events = a.app.get(EventsService);
    const expected: string[] = [];
    events.emit('task.created', { workflowId: 'multi-wf', taskId: 'm0' });
    expected.push('task.created:m0');
    for (let i = 1; i <= 20; i++) {
      for (const type of ['task.ready', 'task.running', 'task.completed'] as const) {
        events.emit(type, { workflowId: 'multi-wf', taskId: `m${i}`, agentId: 'ag' });
        expected.push(`${type}:m${i}`);
      }
    }
    events.emit('workflow.completed', { workflowId: 'multi-wf' });
    expected.push('workflow.completed:multi-wf');

    const seen = (c: LiveTestClient) =>
      c
        .events()
        .map((e) => `${String(e.event.type)}:${String(e.event.taskId ?? e.event.workflowId)}`);
    await onA.waitFor(() => onA.events().length >= expected.length, 10_000, 'events on A');
    await onB.waitFor(() => onB.events().length >= expected.length, 10_000, 'events on B');
    await new Promise((r) => setTimeout(r, 200)); // no duplicates arrive late
    expect(seen(onA)).toEqual(expected);
    expect(seen(onB)).toEqual(expected);
    expect(onB.events().map((e) => e.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(onB.events().every((e) => e.event.source === 'cp-a')).toBe(true);
  }, 30_000);

  it('shows a real workflow run through the queue on A to a client on B, same order as on A', async () => {
    // Stand-in for agents: A's queue runs the tasks itself (the orchestrator is off).
    await a.app.get(TaskQueueService).startProcessing(async () => ({
      kind: 'completed' as const,
      result: { ok: true },
    }));
    const onA = await LiveTestClient.connect(urlA, { token: ADMIN_TOKEN });
    const onB = await LiveTestClient.connect(urlB, { token: ADMIN_TOKEN });
    clients.push(onA, onB);
    for (const c of [onA, onB]) {
      await c.first('welcome');
      c.send({ type: 'subscribe', id: 'all', filters: { types: ['task.*', 'workflow.*'] } });
      await c.first('subscribed');
    }
    const res = await request(a.server)
      .post('/v1/workflows')
      .set(auth())
      .send({
        tasks: [
          { ref: 'plan', capability: 'docs' },
          { ref: 'build', capability: 'docs', dependsOn: ['plan'] },
          { ref: 'ship', capability: 'docs', dependsOn: ['build'] },
        ],
      })
      .expect(201);
    const workflowId = (res.body as { workflow: { id: string } }).workflow.id;
    const done = (c: LiveTestClient) =>
      c
        .events()
        .some((e) => e.event.type === 'workflow.completed' && e.event.workflowId === workflowId);
    await onA.waitFor(() => done(onA), 15_000, 'workflow.completed on A');
    await onB.waitFor(() => done(onB), 15_000, 'workflow.completed on B');
    const mine = (c: LiveTestClient) =>
      c
        .events()
        .filter((e) => e.event.workflowId === workflowId)
        .map((e) => `${String(e.event.type)}:${String(e.event.taskId)}`);
    expect(mine(onB)).toEqual(mine(onA));
    expect(mine(onB).filter((x) => x.startsWith('task.completed'))).toHaveLength(3);
  }, 30_000);

  it('works the other way round, and filters apply to remote events', async () => {
    const onA = await LiveTestClient.connect(urlA, { token: ADMIN_TOKEN });
    clients.push(onA);
    await onA.first('welcome');
    onA.send({ type: 'subscribe', filters: { agentId: 'only-me', types: ['agent.*'] } });
    await onA.first('subscribed');
    const events = b.app.get(EventsService);
    events.emit('agent.registered', { agentId: 'someone-else' });
    events.emit('agent.registered', { agentId: 'only-me' });
    events.emit('task.running', { agentId: 'only-me', taskId: 'x' });
    events.emit('agent.status', { agentId: 'only-me', data: { status: 'BUSY' } });
    await onA.waitFor(() => onA.events().length >= 2, 10_000, 'remote events');
    await new Promise((r) => setTimeout(r, 200));
    expect(onA.events().map((e) => e.event.type)).toEqual(['agent.registered', 'agent.status']);
    expect(onA.events()[0].event.source).toBe('cp-b');
  }, 30_000);
});
