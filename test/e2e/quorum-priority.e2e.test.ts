import amqp from 'amqplib';
import request from 'supertest';
import type { AgentMessage } from '../../src/bus/agent-message.schema';
import { MessageBus } from '../../src/bus/message-bus';
import type { TaskResultPayload } from '../../src/contracts/task-message.schema';
import { DiscoveryService } from '../../src/discovery/discovery.service';
import { BusTopology } from '../../src/bus/bus-topology';
import { deleteBusObjects, uniqueNamespace } from '../support/amqp-cleanup';
import { deletePrefix } from '../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../support/test-app';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Issue 18: quorum queues (AMQP_QUEUE_TYPE=quorum) have no priorities on RabbitMQ 3.10, so an
 * agent's task queue is FIFO. Priority still holds because the dispatcher takes READY work from
 * its Redis queue highest priority first (BullMQ priority, FIFO within one) and the agent queue
 * delivers in the order it was sent: a backlog that becomes ready at once reaches the agent
 * highest priority first. (Tasks deferred because every agent is full come back after
 * ORCHESTRATOR_NO_AGENT_RETRY_MS and compete again only once READY: that ordering is
 * approximate with either queue type — see docs/HIGH-AVAILABILITY.md.)
 */
describe('priority order with quorum queues (e2e, real RabbitMQ and Redis)', () => {
  const namespace = uniqueNamespace('qprio');
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      BUS_TRANSPORT: 'rabbitmq',
      AMQP_QUEUE_TYPE: 'quorum',
      BUS_NAMESPACE: namespace,
      ORCHESTRATOR_CONCURRENCY: '1',
      ORCHESTRATOR_CANDIDATE_CACHE_MS: '0',
      ORCHESTRATOR_NO_AGENT_RETRY_MS: '50',
    });
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
    await deleteBusObjects(AMQP_URL, namespace, ['prio-agent']).catch(() => undefined);
  });

  it('a backlog submitted in mixed order reaches the agent highest priority first, FIFO within a priority', async () => {
    const bus = t.app.get(MessageBus);
    const conn = await amqp.connect(AMQP_URL);
    const received: { n: number; priority: number }[] = [];
    const sub = await bus.subscribe(
      'prio-agent',
      async (m: AgentMessage) => {
        const n = (m.payload as { payload: { n: number } }).payload.n;
        received.push({ n, priority: m.priority });
        const reply: TaskResultPayload = { ok: true, output: { n } };
        await bus.sendResponse(m, {
          fromAgent: 'prio-agent',
          messageType: 'response',
          payload: reply,
          attempt: m.attempt,
        });
      },
      { prefetch: 10 },
    );
    try {
      // The agent queue really is a quorum queue: declaring it again as one is accepted (RabbitMQ
      // answers 406 PRECONDITION_FAILED if it were a classic priority queue).
      const ch = await conn.createChannel();
      const topology = new BusTopology(namespace);
      await ch.assertQueue(topology.agentQueue('prio-agent'), {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-expires': 86_400_000,
          'x-message-ttl': 43_200_000,
          'x-dead-letter-exchange': topology.deadLetterExchange,
        },
      });
      await ch.close();

      const submit = async (n: number, priority: number) => {
        const res = await request(t.server)
          .post('/v1/tasks')
          .set(auth())
          .send({ capability: 'prio', payload: { n }, priority })
          .expect(201);
        return (res.body as { id: string }).id;
      };
      // No agent has the capability yet: the backlog waits (parked) in Redis.
      const priorities = [1, 9, 5, 10, 2, 9, 3, 7];
      const ids: string[] = [];
      for (const [n, p] of priorities.entries()) ids.push(await submit(n, p));
      await new Promise((r) => setTimeout(r, 500));
      expect(received).toHaveLength(0);
      // The agent appears: the whole backlog is READY at once.
      await t.app
        .get(DiscoveryService)
        .register({ id: 'prio-agent', capabilities: ['prio'], maxLoad: 10 });
      for (const id of ids) {
        await until(`task ${id} to complete`, async () => {
          const r = await request(t.server).get(`/v1/tasks/${id}`).set(auth());
          return (r.body as { status: string }).status === 'COMPLETED' ? true : undefined;
        });
      }
      expect(received.map((r) => r.priority)).toEqual([...priorities].sort((a, b) => b - a));
      // FIFO within a priority: the two 9s (n=1, n=5) keep their submission order.
      expect(received.filter((r) => r.priority === 9).map((r) => r.n)).toEqual([1, 5]);
    } finally {
      await sub.cancel();
      await conn.close();
    }
  }, 60_000);
});
