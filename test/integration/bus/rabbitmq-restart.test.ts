import type { AgentMessage } from '../../../src/bus/agent-message.schema';
import { busOptions } from '../../../src/bus/bus-options';
import type { BusState, DeliveryInfo } from '../../../src/bus/message-bus';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { AppException } from '../../../src/common/errors/app.exception';
import { ErrorCode } from '../../../src/common/errors/error-code.enum';
import { uniqueNamespace } from '../../support/amqp-cleanup';
import { sleep, until } from '../../support/processes';
import { type RabbitNode, startRabbitNode } from '../../../bench/support/rabbitmq-node';

/**
 * Restarts a PRIVATE RabbitMQ node (bench/support/rabbitmq-node.ts) while publishing with
 * confirms. The shared broker on 5672 is never touched: other tests use it concurrently.
 */
describe('RabbitMQ broker restart (private node)', () => {
  let node: RabbitNode | undefined;

  beforeAll(async () => {
    node = await startRabbitNode();
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
  }, 30_000);

  it('delivers every confirmed message after stop_app/start_app and consumers resume by themselves', async () => {
    const n = node as RabbitNode;
    const bus = new RabbitMqMessageBus(
      busOptions({
        amqpUrl: n.url,
        namespace: uniqueNamespace('restart'),
        instanceId: 'restart-test',
        publishTimeoutMs: 1500,
      }),
    );
    await bus.connect(10_000);
    const states: BusState[] = [];
    const received = new Map<string, DeliveryInfo>();
    await bus.subscribe(
      'worker',
      async (m: AgentMessage, info) => {
        received.set(m.id, info);
      },
      { prefetch: 50 },
    );

    const confirmed = new Set<string>();
    const failures: unknown[] = [];
    let stop = false;
    const publisher = async (p: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const m = await bus.sendTask({
            fromAgent: `publisher-${p}`,
            toAgent: 'worker',
            messageType: 'task',
            payload: { p, i },
            priority: i % 11,
          });
          confirmed.add(m.id);
        } catch (e) {
          failures.push(e);
          await sleep(50);
        }
      }
    };
    const watcher = setInterval(() => {
      if (states[states.length - 1] !== bus.state) states.push(bus.state);
    }, 10);
    const publishers = [0, 1, 2, 3].map(publisher);

    try {
      await until(() => confirmed.size >= 300, 15_000, '300 confirmed messages');
      await n.stopApp();
      await sleep(2000); // longer than BUS_PUBLISH_TIMEOUT_MS: some publishes must fail, not hang
      expect(bus.state).toBe('reconnecting');
      await n.startApp();
      await until(() => bus.state === 'connected', 20_000, 'the bus to reconnect');
      const atReconnect = confirmed.size;
      await until(() => confirmed.size >= atReconnect + 300, 15_000, 'publishing to resume');
    } finally {
      stop = true;
      await Promise.all(publishers);
      clearInterval(watcher);
    }

    // Every publish that resolved was confirmed by the broker and is delivered after the restart.
    await until(
      () => [...confirmed].every((id) => received.has(id)),
      20_000,
      'every confirmed message to be delivered',
    );
    // Publishes during the outage failed loudly with a 503, none with anything else.
    for (const e of failures) {
      expect(e).toBeInstanceOf(AppException);
      expect((e as AppException).code).toBe(ErrorCode.DependencyUnavailable);
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(states).toEqual(expect.arrayContaining(['connected', 'reconnecting']));
    // The consumer re-attached by itself (no new subscribe call).
    const q = await bus.inspectQueue(bus.topology.agentQueue('worker'));
    expect(q.consumerCount).toBe(1);
    await bus.close();
  }, 60_000);
});
