import { join } from 'node:path';
import request from 'supertest';
import { MessageBus } from '../../../src/bus/message-bus';
import type { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { DiscoveryService } from '../../../src/discovery/discovery.service';
import { EmbeddedWorkerModule } from '../../../src/worker/embedded-worker.module';
import { WorkerService } from '../../../src/worker/worker.service';
import { deleteBusObjects, uniqueNamespace } from '../../support/amqp-cleanup';
import { deletePrefix } from '../../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../../support/test-app';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const AGENTS = join(__dirname, '..', '..', 'fixtures', 'embedded-agents');

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A worker whose agent record expired (a Redis failover, a paused process: the control plane
 * declared the agent gone) registers it again from its heartbeat. The agent's task queue must
 * keep ONE consumer of this worker: the ha run that failed ended with 13-15 consumers on each
 * agent queue (one more per re-registration), each with the agent's full prefetch, so the
 * worker took 15x the agent's concurrency from RabbitMQ.
 */
describe('worker re-registration after its agent expired (e2e, real RabbitMQ and Redis)', () => {
  const namespace = uniqueNamespace('rereg');
  const workerId = `rereg${process.pid}`;
  const echo = `echo@${workerId}`;
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(
      {
        BUS_TRANSPORT: 'rabbitmq',
        BUS_NAMESPACE: namespace,
        WORKER_ID: workerId,
        WORKER_HEARTBEAT_INTERVAL_MS: '100',
        ORCHESTRATOR_CANDIDATE_CACHE_MS: '0',
        ORCHESTRATOR_NO_AGENT_RETRY_MS: '50',
      },
      [EmbeddedWorkerModule.forAgents(AGENTS)],
    );
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
    const ids = t.app.get(WorkerService).registeredIds;
    await deleteBusObjects(AMQP_URL, namespace, [...ids, `worker.${workerId}`]).catch(
      () => undefined,
    );
  });

  it('keeps one consumer per agent queue however often the agent is registered again', async () => {
    const discovery = t.app.get(DiscoveryService);
    const bus = t.app.get<MessageBus, RabbitMqMessageBus>(MessageBus);
    const queue = bus.topology.agentQueue(echo);
    await until('the echo agent to register', () => discovery.tryGet(echo));
    expect((await bus.inspectQueue(queue)).consumerCount).toBe(1);

    for (let i = 0; i < 4; i++) {
      // What the control plane sees when the heartbeats stop reaching Redis: the record is gone.
      await discovery.deregister(echo);
      await until(`re-registration ${i + 1}`, () => discovery.tryGet(echo));
    }
    // Any re-subscription of a re-registration has reached the broker by now.
    await new Promise((r) => setTimeout(r, 500));
    expect((await bus.inspectQueue(queue)).consumerCount).toBe(1);

    // The agent still takes work from that consumer.
    const res = await request(t.server)
      .post('/v1/tasks')
      .set(auth())
      .send({ capability: 'echo', payload: { hello: 'again' } })
      .expect(201);
    const id = (res.body as { id: string }).id;
    const done = await until(`task ${id} to finish`, async () => {
      const r = await request(t.server).get(`/v1/tasks/${id}`).set(auth());
      const body = r.body as { status: string; agentId?: string };
      return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(body.status) ? body : undefined;
    });
    expect(done).toMatchObject({ status: 'COMPLETED', agentId: echo });
  }, 60_000);
});
