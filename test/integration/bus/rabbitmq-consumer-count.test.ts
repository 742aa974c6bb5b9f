import type { AgentMessage } from '../../../src/bus/agent-message.schema';
import { busOptions } from '../../../src/bus/bus-options';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { uniqueNamespace } from '../../support/amqp-cleanup';
import { sleep, until as untilEvery } from '../../support/processes';
import { type RabbitNode, startRabbitNode } from '../../../bench/support/rabbitmq-node';

const until = (cond: () => boolean, ms: number, what: string) => untilEvery(cond, ms, what, 10);

/**
 * The ha run that failed listed 13-15 consumers on each agent task queue of a worker that
 * subscribes once per agent. This pins the bus side: however many times the connection drops
 * (also again while the consumers are being re-attached), each subscription has exactly one
 * consumer on the broker. (The duplicates came from the worker subscribing again on each
 * re-registration: test/e2e/worker/reregister-consumers.e2e.test.ts.)
 */
describe('consumers after repeated reconnects (private RabbitMQ node)', () => {
  let node: RabbitNode | undefined;

  beforeAll(async () => {
    node = await startRabbitNode();
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
  }, 30_000);

  it('keeps one consumer per subscription across 6 forced reconnects', async () => {
    const n = node as RabbitNode;
    const bus = new RabbitMqMessageBus(
      busOptions({
        amqpUrl: n.url,
        namespace: uniqueNamespace('consumers'),
        instanceId: 'consumers-test',
        publishTimeoutMs: 3000,
      }),
    );
    await bus.connect(10_000);
    const received = new Set<string>();
    const handler = async (m: AgentMessage) => void received.add(m.id);
    for (const agent of ['a@w', 'b@w', 'c@w']) await bus.subscribe(agent, handler, { prefetch: 8 });
    await bus.subscribeResponses('w', handler);
    const queues = [
      ...['a@w', 'b@w', 'c@w'].map((a) => bus.topology.agentQueue(a)),
      bus.topology.responseQueue('w'),
    ];
    const counts = async () =>
      Promise.all(queues.map(async (q) => (await bus.inspectQueue(q)).consumerCount));
    expect(await counts()).toEqual([1, 1, 1, 1]);

    // The live amqplib connection: a reconnect replaces it (faster than a state poll could see).
    const live = () =>
      (bus as unknown as { connection: { connection?: object } }).connection.connection;
    try {
      for (let i = 0; i < 6; i++) {
        const before = live();
        await n.closeAllConnections();
        if (i % 2 === 1) {
          // Again while the consumers are being re-attached on the new connection.
          await until(
            () => live() !== undefined && live() !== before,
            15_000,
            `reconnect ${i + 1}`,
          );
          await n.closeAllConnections().catch(() => undefined);
        }
        await until(
          () => bus.state === 'connected' && live() !== undefined && live() !== before,
          20_000,
          `reconnect ${i + 1}`,
        );
      }
      await sleep(500); // a late re-attach timer would have fired by now
      await until(() => bus.state === 'connected', 20_000, 'the last reconnect');
      expect(await counts()).toEqual([1, 1, 1, 1]);

      // Each consumer still receives.
      const sent = await Promise.all(
        ['a@w', 'b@w', 'c@w'].map((a) =>
          bus.sendTask({ fromAgent: 't', toAgent: a, messageType: 'task', payload: {} }),
        ),
      );
      await until(() => sent.every((m) => received.has(m.id)), 10_000, 'the deliveries');
    } finally {
      await bus.close();
    }
  }, 180_000);
});
