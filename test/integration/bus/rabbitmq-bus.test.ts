import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { AgentMessage } from '../../../src/bus/agent-message.schema';
import { busOptions, type BusOptions } from '../../../src/bus/bus-options';
import type { DeliveryInfo } from '../../../src/bus/message-bus';
import { QueueTypeMismatchError } from '../../../src/bus/rabbitmq/amqp.util';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { AppException } from '../../../src/common/errors/app.exception';
import { ErrorCode } from '../../../src/common/errors/error-code.enum';
import { deleteBusObjects, uniqueNamespace } from '../../support/amqp-cleanup';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(50);
  }
}

function validMessage(toAgent: string, extra: Partial<AgentMessage> = {}): AgentMessage {
  const id = randomUUID();
  return {
    id,
    fromAgent: 'raw',
    toAgent,
    messageType: 'task',
    payload: { n: 1 },
    correlationId: id,
    timestamp: new Date().toISOString(),
    priority: 5,
    attempt: 0,
    ...extra,
  };
}

/** RabbitMQ-only behaviour against the shared broker (never restarted here: see the restart test). */
describe.each(['classic', 'quorum'] as const)(
  'RabbitMqMessageBus (RabbitMQ specifics, %s queues)',
  (queueType) => {
    let namespace: string;
    let bus: RabbitMqMessageBus;
    let raw: amqp.ChannelModel;
    const agents = ['alpha', 'beta', 'ghost'];
    /** Every bus instance id used here (each has a reply queue). */
    const instances = ['rmq-spec', 'rmq-spec-small', 'rmq-spec-ttl', 'rmq-spec-other'];

    async function makeBus(overrides: Partial<BusOptions> = {}): Promise<RabbitMqMessageBus> {
      const b = new RabbitMqMessageBus(
        busOptions({
          amqpUrl: AMQP_URL,
          namespace,
          instanceId: 'rmq-spec',
          queueType,
          ...overrides,
        }),
      );
      await b.connect(10_000);
      return b;
    }

    beforeEach(async () => {
      namespace = uniqueNamespace('rmq');
      bus = await makeBus();
      raw = await amqp.connect(AMQP_URL);
    });

    afterEach(async () => {
      await bus.close();
      await raw.close();
      await deleteBusObjects(AMQP_URL, namespace, [...agents, ...instances]);
    });

    async function parked(): Promise<amqp.GetMessage | undefined> {
      const ch = await raw.createChannel();
      try {
        const m = await ch.get(bus.topology.parkingQueue, { noAck: true });
        return m === false ? undefined : m;
      } finally {
        await ch.close();
      }
    }

    it('dead-letters an invalid message at consume to the parking queue with the reason (no crash loop)', async () => {
      let calls = 0;
      await bus.subscribe('alpha', async () => {
        calls++;
      });
      const ch = await raw.createConfirmChannel();
      const bad = { ...validMessage('alpha'), priority: 42, extra: 'field' };
      ch.publish(bus.topology.tasksExchange, 'agent.alpha', Buffer.from(JSON.stringify(bad)), {
        persistent: true,
        messageId: bad.id,
      });
      ch.publish(bus.topology.tasksExchange, 'agent.alpha', Buffer.from('not json {'), {
        persistent: true,
      });
      await ch.waitForConfirms();
      await ch.close();

      const first = await eventually(parked);
      const second = await eventually(parked);
      const reasons = [first, second].map((m) =>
        String(m.properties.headers?.['x-switchyard-error']),
      );
      expect(reasons.some((r) => /priority/.test(r) && /extra/.test(r))).toBe(true);
      expect(reasons.some((r) => /not JSON/.test(r))).toBe(true);
      expect(first.properties.headers?.['x-switchyard-queue']).toBe(
        bus.topology.agentQueue('alpha'),
      );
      expect(calls).toBe(0);
      await sleep(200);
      expect((await bus.inspectQueue(bus.topology.agentQueue('alpha'))).messageCount).toBe(0);
    });

    it('dead-letters a message above the size limit at consume', async () => {
      const small = await makeBus({ maxMessageBytes: 2048, instanceId: 'rmq-spec-small' });
      try {
        let calls = 0;
        await small.subscribe('beta', async () => {
          calls++;
        });
        // A valid message the big-limit bus accepts, but the consumer's limit refuses.
        await bus.sendTask({
          fromAgent: 'alpha',
          toAgent: 'beta',
          messageType: 'task',
          payload: 'x'.repeat(4000),
        });
        const m = await eventually(parked);
        expect(String(m.properties.headers?.['x-switchyard-error'])).toMatch(/limit is 2048/);
        expect(calls).toBe(0);
      } finally {
        await small.close();
      }
    });

    it('marks a message redelivered after a consumer crashed before acking it (same message id)', async () => {
      const sent = await bus.sendTask({
        fromAgent: 'beta',
        toAgent: 'alpha',
        messageType: 'task',
        payload: 'crash me',
      });
      // A consumer takes the message and dies (channel closed) without acking.
      const ch = await raw.createChannel();
      const got = await eventually(async () => {
        const m = await ch.get(bus.topology.agentQueue('alpha'), { noAck: false });
        return m === false ? undefined : m;
      });
      expect(got.properties.messageId).toBe(sent.id);
      await ch.close();

      const seen: [AgentMessage, DeliveryInfo][] = [];
      await bus.subscribe('alpha', async (m, info) => {
        seen.push([m, info]);
      });
      const [m, info] = await eventually(async () => seen[0]);
      expect(m.id).toBe(sent.id);
      expect(info.redelivered).toBe(true);
    });

    it('re-attaches a consumer whose queue was deleted under it, and re-declares it for publishers', async () => {
      const seen: AgentMessage[] = [];
      await bus.subscribe('alpha', async (m) => {
        seen.push(m);
      });
      await bus.sendTask({ fromAgent: 'beta', toAgent: 'alpha', messageType: 'task', payload: 1 });
      await eventually(async () => seen[0]);
      const ch = await raw.createChannel();
      await ch.deleteQueue(bus.topology.agentQueue('alpha'));
      await ch.close();
      // The broker cancels the consumer; the bus declares the queue again and consumes from it.
      await eventually(async () => {
        const q = await bus.inspectQueue(bus.topology.agentQueue('alpha')).catch(() => undefined);
        return q && q.consumerCount === 1 ? q : undefined;
      });
      // The publisher's cached declaration is stale: the broker returns the message (mandatory),
      // the bus re-declares the queue and publishes again instead of losing it.
      const sent = await bus.sendTask({
        fromAgent: 'beta',
        toAgent: 'alpha',
        messageType: 'task',
        payload: 2,
      });
      const m = await eventually(async () => seen.find((x) => x.id === sent.id));
      expect(m.payload).toBe(2);
    });

    it('dead-letters tasks left in an abandoned agent queue for re-dispatch (TTL before x-expires)', async () => {
      const short = await makeBus({
        instanceId: 'rmq-spec-ttl',
        taskTtlMs: 300,
        agentQueueExpiresMs: 60_000,
      });
      try {
        const redispatched: [AgentMessage, DeliveryInfo][] = [];
        await short.subscribeRedispatch(async (m, info) => {
          redispatched.push([m, info]);
        });
        const sent = await short.sendTask({
          fromAgent: 'alpha',
          toAgent: 'ghost',
          messageType: 'task',
          payload: 'nobody home',
          priority: 9,
        });
        const [m, info] = await eventually(async () => redispatched[0]);
        expect(m.id).toBe(sent.id);
        expect(info.deadLetterReason).toBe('expired');
      } finally {
        await short.close();
      }
    });

    it('refuses to declare an agent queue with other arguments, with a clear 409', async () => {
      await bus.sendTask({ fromAgent: 'a', toAgent: 'beta', messageType: 'task', payload: 1 });
      const other = await makeBus({ instanceId: 'rmq-spec-other', taskTtlMs: 1234 });
      try {
        const err = await other
          .sendTask({ fromAgent: 'a', toAgent: 'beta', messageType: 'task', payload: 1 })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AppException);
        expect((err as AppException).code).toBe(ErrorCode.Conflict);
        expect((err as AppException).message).toMatch(/different arguments/);
        // The publisher channel survived: other publishes still work.
        const ok = await other.broadcastEvent({
          fromAgent: 'a',
          toAgent: '*',
          messageType: 'event',
          payload: 1,
        });
        expect(ok.id).toBeDefined();
      } finally {
        await other.close();
      }
    });

    it('refuses to boot with another AMQP_QUEUE_TYPE than the queues were declared with, saying what to do', async () => {
      // `bus` declared this run's layout in `namespace`; an instance of the other type shares it.
      const otherType = queueType === 'classic' ? 'quorum' : 'classic';
      const other = new RabbitMqMessageBus(
        busOptions({
          amqpUrl: AMQP_URL,
          namespace,
          instanceId: 'rmq-spec-other',
          queueType: otherType,
        }),
      );
      try {
        const started = Date.now();
        const err = await other.connect(10_000).catch((e: unknown) => e);
        // At once, not after the connect timeout: no retry or other node can fix it.
        expect(Date.now() - started).toBeLessThan(5000);
        expect(err).toBeInstanceOf(QueueTypeMismatchError);
        const mismatch = err as QueueTypeMismatchError;
        expect(mismatch.queue).toBe(bus.topology.orchestratorQueue);
        expect(mismatch.message).toContain(`AMQP_QUEUE_TYPE=${otherType}`);
        expect(mismatch.message).toMatch(/BUS_NAMESPACE/);
        expect(mismatch.message).toMatch(/PRECONDITION_FAILED/);
        // It stays refused (the loop stopped; no silent retry against every node).
        await expect(other.connect(1000)).rejects.toBeInstanceOf(QueueTypeMismatchError);
      } finally {
        await other.close();
      }
    });

    it('bounds what waits for the broker: beyond BUS_MAX_PENDING_PUBLISHES a publish fails at once', async () => {
      const down = new RabbitMqMessageBus(
        busOptions({
          amqpUrl: 'amqp://guest:guest@127.0.0.1:1',
          namespace,
          publishTimeoutMs: 1000,
          maxPendingPublishes: 2,
        }),
      );
      try {
        const task = { fromAgent: 'a', toAgent: 'beta', messageType: 'task' as const, payload: 1 };
        const waiting = [down.sendTask(task), down.sendTask(task)].map((p) =>
          p.catch((e: unknown) => e),
        );
        const started = Date.now();
        const err = await down.sendTask(task).catch((e: unknown) => e);
        expect(Date.now() - started).toBeLessThan(200);
        expect(err).toBeInstanceOf(AppException);
        expect((err as AppException).code).toBe(ErrorCode.DependencyUnavailable);
        expect((err as AppException).message).toMatch(/BUS_MAX_PENDING_PUBLISHES/);
        // The two that waited fail with a 503 too once their time is up; nothing is kept.
        for (const e of await Promise.all(waiting)) {
          expect((e as AppException).code).toBe(ErrorCode.DependencyUnavailable);
        }
      } finally {
        await down.close();
      }
    });

    it('fails a publish with a 503 after BUS_PUBLISH_TIMEOUT_MS when the broker cannot be reached', async () => {
      const down = new RabbitMqMessageBus(
        busOptions({ amqpUrl: 'amqp://guest:guest@127.0.0.1:1', namespace, publishTimeoutMs: 300 }),
      );
      try {
        const started = Date.now();
        const err = await down
          .sendTask({ fromAgent: 'a', toAgent: 'beta', messageType: 'task', payload: 1 })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AppException);
        expect((err as AppException).code).toBe(ErrorCode.DependencyUnavailable);
        expect((err as AppException).status).toBe(503);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(down.state).not.toBe('connected');
      } finally {
        await down.close();
      }
    });
  },
);
