import { Counter } from 'prom-client';
import type { AgentMessage } from '../../../src/bus/agent-message.schema';
import type { BusOptions } from '../../../src/bus/bus-options';
import type { BusTopology } from '../../../src/bus/bus-topology';
import type { DeliveryInfo, MessageBus } from '../../../src/bus/message-bus';
import { AppException } from '../../../src/common/errors/app.exception';
import { ErrorCode } from '../../../src/common/errors/error-code.enum';
import { setupTracing, withSpan } from '../../../src/observability/tracing';

/** What both transports offer beyond the abstract class (used by the shared cases). */
export type TestBus = MessageBus & {
  readonly topology: BusTopology;
  readonly replyTo: string;
  subscribeRedispatch: NonNullable<MessageBus['subscribeRedispatch']>;
  inspectQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }>;
};

export interface BusFixture {
  bus: TestBus;
  /** Deletes everything the bus created (queues, exchanges) and closes it. */
  cleanup(): Promise<void>;
}

/** Builds a connected bus in a fresh namespace. */
export type BusFactory = (overrides?: Partial<BusOptions>) => Promise<BusFixture>;

export const AGENTS = ['alpha', 'beta', 'gamma', 'requester', 'responder', 'nobody'];

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves when `n` items were collected (or rejects after `ms`). */
function collector<T>(n: number, ms = 10_000) {
  const items: T[] = [];
  const done = deferred<T[]>();
  const timer = setTimeout(() => done.resolve(items), ms);
  return {
    items,
    push(item: T) {
      items.push(item);
      if (items.length === n) {
        clearTimeout(timer);
        done.resolve(items);
      }
    },
    wait: () => done.promise,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectAppError(p: Promise<unknown>, code: ErrorCode): Promise<AppException> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppException);
  expect((err as AppException).code).toBe(code);
  return err as AppException;
}

/**
 * The MessageBus contract. Each transport runs these same cases (see the *.contract.test.ts
 * files), so the in-memory transport cannot drift from RabbitMQ.
 */
export function messageBusContract(
  transport: string,
  factory: BusFactory,
  /** Quorum queues (RabbitMQ 3.10) have no priorities: a backlog drains FIFO. */
  { priorityQueues = true }: { priorityQueues?: boolean } = {},
): void {
  describe(`MessageBus contract (${transport})`, () => {
    let fx: BusFixture;
    let bus: TestBus;

    beforeAll(() => {
      setupTracing({ serviceName: 'switchyard-test', sampleRatio: 1 });
    });

    beforeEach(async () => {
      fx = await factory();
      bus = fx.bus;
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('is connected after connect() and connect() is idempotent', async () => {
      expect(bus.state).toBe('connected');
      await bus.connect();
      expect(bus.state).toBe('connected');
    });

    it('delivers a task with every field, fills id/timestamp/correlationId, and acks it', async () => {
      const got = collector<[AgentMessage, DeliveryInfo]>(1);
      await bus.subscribe('alpha', async (m, info) => got.push([m, info]));
      const sent = await bus.sendTask({
        fromAgent: 'beta',
        toAgent: 'alpha',
        taskId: 'task-1',
        messageType: 'task',
        payload: { text: 'hello', n: [1, 2, 3] },
        priority: 7,
        attempt: 2,
      });
      expect(sent.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(sent.correlationId).toBe(sent.id);
      expect(Number.isNaN(Date.parse(sent.timestamp))).toBe(false);
      const [[m, info]] = (await got.wait()) as [[AgentMessage, DeliveryInfo]];
      expect(m).toEqual(sent);
      expect(info.redelivered).toBe(false);
      await sleep(100);
      const q = await bus.inspectQueue(bus.topology.agentQueue('alpha'));
      expect(q.messageCount).toBe(0);
    });

    it('defaults priority to 5 and attempt to 0', async () => {
      const sent = await bus.sendTask({
        fromAgent: 'beta',
        toAgent: 'alpha',
        messageType: 'task',
        payload: null,
      });
      expect(sent.priority).toBe(5);
      expect(sent.attempt).toBe(0);
    });

    it('rejects an invalid message at publish with a 400 naming each field', async () => {
      const err = await expectAppError(
        bus.sendTask({
          fromAgent: '',
          toAgent: 'alpha',
          messageType: 'task',
          payload: 1,
          priority: 11,
          // @ts-expect-error unknown field on purpose
          bogus: true,
        }),
        ErrorCode.ValidationFailed,
      );
      const fields = (err.details as { fields: { field: string }[] }).fields.map((f) => f.field);
      expect(fields).toEqual(expect.arrayContaining(['fromAgent', 'priority', 'bogus']));
    });

    it('rejects a message above the size limit with a clear 413', async () => {
      const err = await expectAppError(
        bus.sendTask({
          fromAgent: 'beta',
          toAgent: 'alpha',
          messageType: 'task',
          payload: 'x'.repeat(70_000),
        }),
        ErrorCode.PayloadTooLarge,
      );
      expect(err.message).toMatch(/BUS_MAX_MESSAGE_BYTES/);
    });

    it(`drains a backlog ${priorityQueues ? 'highest priority first' : 'in publish order (FIFO: no priorities)'}`, async () => {
      const priorities = [1, 9, 5, 10, 0, 9, 3, 7];
      for (const [i, priority] of priorities.entries()) {
        await bus.sendTask({
          fromAgent: 'beta',
          toAgent: 'gamma',
          messageType: 'task',
          payload: i,
          priority,
        });
      }
      const got = collector<AgentMessage>(priorities.length);
      await bus.subscribe('gamma', async (m) => got.push(m), { prefetch: 1 });
      const order = (await got.wait()).map((m) => m.priority);
      if (!priorityQueues) {
        // The dispatcher keeps the priority order (its Redis queue), not the broker.
        expect(got.items.map((m) => m.payload)).toEqual(priorities.map((_, i) => i));
        return;
      }
      expect(order).toEqual([...priorities].sort((a, b) => b - a));
      // FIFO within one priority: the two 9s keep their order.
      const nines = got.items.filter((m) => m.priority === 9).map((m) => m.payload);
      expect(nines).toEqual([1, 5]);
    });

    it('runs at most `prefetch` handlers at once', async () => {
      let running = 0;
      let max = 0;
      const got = collector<number>(6);
      await bus.subscribe(
        'alpha',
        async (m) => {
          running++;
          max = Math.max(max, running);
          await sleep(30);
          running--;
          got.push(m.payload as number);
        },
        { prefetch: 2 },
      );
      await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) =>
          bus.sendTask({ fromAgent: 'beta', toAgent: 'alpha', messageType: 'task', payload: i }),
        ),
      );
      expect((await got.wait()).length).toBe(6);
      expect(max).toBe(2);
    });

    it('delivers each broadcast to every subscriber', async () => {
      const a = collector<AgentMessage>(2);
      const b = collector<AgentMessage>(2);
      await bus.subscribeBroadcasts(async (m) => a.push(m));
      await bus.subscribeBroadcasts(async (m) => b.push(m));
      await bus.broadcastEvent({
        fromAgent: 'alpha',
        toAgent: '*',
        messageType: 'event',
        payload: 1,
      });
      await bus.broadcastEvent({
        fromAgent: 'alpha',
        toAgent: '*',
        messageType: 'event',
        payload: 2,
      });
      expect((await a.wait()).map((m) => m.payload)).toEqual([1, 2]);
      expect((await b.wait()).map((m) => m.payload)).toEqual([1, 2]);
    });

    it('request() resolves with the response carrying the same correlation id', async () => {
      await bus.subscribe('responder', async (m) => {
        await bus.sendResponse(m, {
          fromAgent: 'responder',
          messageType: 'response',
          payload: { echo: m.payload },
        });
      });
      const res = await bus.request(
        {
          fromAgent: 'requester',
          toAgent: 'responder',
          messageType: 'task',
          payload: 'ping',
          correlationId: 'corr-1',
        },
        5000,
      );
      expect(res.correlationId).toBe('corr-1');
      expect(res.messageType).toBe('response');
      expect(res.payload).toEqual({ echo: 'ping' });
      expect(res.toAgent).toBe('requester');
    });

    it('request() drops a forged reply from another agent (or another attempt) and counts it', async () => {
      // A bus of its own, so the metrics it reports can be read.
      const counters = {
        busMessagesTotal: new Counter({
          name: 'forged_test_bus_messages_total',
          help: 'test',
          labelNames: ['message_type', 'direction'],
          registers: [],
        }),
        duplicateRepliesTotal: new Counter({
          name: 'forged_test_duplicate_replies_total',
          help: 'test',
          labelNames: ['reason'],
          registers: [],
        }),
      };
      const own = await factory({ metrics: counters });
      try {
        const b = own.bus;
        await b.subscribe('responder', async (m) => {
          // Another agent (gamma) answers first with the same correlation id, then a reply for
          // another attempt, then the agent the request went to.
          await b.sendResponse(m, {
            fromAgent: 'gamma',
            messageType: 'response',
            payload: 'forged',
          });
          await b.sendResponse(m, {
            fromAgent: 'responder',
            messageType: 'response',
            payload: 'stale',
            attempt: m.attempt + 1,
          });
          await sleep(100);
          await b.sendResponse(m, {
            fromAgent: 'responder',
            messageType: 'response',
            payload: 'real',
          });
        });
        const res = await b.request(
          {
            fromAgent: 'requester',
            toAgent: 'responder',
            messageType: 'task',
            payload: 'x',
            attempt: 3,
          },
          5000,
        );
        expect(res.payload).toBe('real');
        expect(res.fromAgent).toBe('responder');
        expect(res.attempt).toBe(3);
        const values = (await counters.duplicateRepliesTotal.get()).values;
        const count = (reason: string) =>
          values.find((v) => v.labels.reason === reason)?.value ?? 0;
        expect(count('wrong_sender')).toBe(1);
        expect(count('wrong_attempt')).toBe(1);
      } finally {
        await own.cleanup();
      }
    });

    it('request() rejects with a TimeoutError when nobody answers', async () => {
      const started = Date.now();
      const err = await bus
        .request(
          { fromAgent: 'requester', toAgent: 'nobody', messageType: 'task', payload: 1 },
          300,
        )
        .catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe('TimeoutError');
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    });

    it('waitForResponse() gets a response that arrived before it was called', async () => {
      await bus.subscribe('responder', async (m) => {
        await bus.sendResponse(m, {
          fromAgent: 'responder',
          messageType: 'response',
          payload: 'ok',
        });
      });
      const sent = await bus.sendTask({
        fromAgent: 'requester',
        toAgent: 'responder',
        messageType: 'task',
        payload: 1,
        replyTo: bus.replyTo,
      });
      await sleep(200);
      const res = await bus.waitForResponse(sent.correlationId, 3000);
      expect(res.payload).toBe('ok');
    });

    it('subscribeResponses() receives responses sent to {name}.response', async () => {
      const got = collector<AgentMessage>(1);
      await bus.subscribeResponses('alpha', async (m) => got.push(m));
      const request = await bus.sendTask({
        fromAgent: 'alpha',
        toAgent: 'beta',
        taskId: 'task-7',
        messageType: 'task',
        payload: 1,
        attempt: 3,
        priority: 9,
      });
      await bus.sendResponse(request, { fromAgent: 'beta', messageType: 'response', payload: 2 });
      const [m] = await got.wait();
      expect(m?.correlationId).toBe(request.correlationId);
      expect(m?.taskId).toBe(request.taskId);
      // attempt and priority default to the request's
      expect(m?.attempt).toBe(3);
      expect(m?.priority).toBe(9);
    });

    it('rejects a response nobody can receive instead of dropping it', async () => {
      const request = await bus.sendTask({
        fromAgent: 'nobody',
        toAgent: 'beta',
        messageType: 'task',
        payload: 1,
      });
      await expectAppError(
        bus.sendResponse(request, { fromAgent: 'beta', messageType: 'response', payload: 2 }),
        ErrorCode.NotFound,
      );
    });

    it('dead-letters a task whose handler throws to orchestrator.priority (no crash loop)', async () => {
      let calls = 0;
      await bus.subscribe('alpha', async () => {
        calls++;
        throw new Error('boom');
      });
      const dead = collector<[AgentMessage, DeliveryInfo]>(1);
      await bus.subscribeRedispatch(async (m, info) => dead.push([m, info]));
      const sent = await bus.sendTask({
        fromAgent: 'beta',
        toAgent: 'alpha',
        messageType: 'task',
        payload: 1,
        priority: 8,
      });
      const [[m, info]] = (await dead.wait()) as [[AgentMessage, DeliveryInfo]];
      expect(m.id).toBe(sent.id);
      expect(info.deadLetterReason).toBe('rejected');
      await sleep(200);
      expect(calls).toBe(1);
    });

    it('carries the W3C trace context in the headers', async () => {
      const got = collector<DeliveryInfo>(1);
      await bus.subscribe('alpha', async (_m, info) => got.push(info));
      let traceId = '';
      await withSpan('test', {}, async (span) => {
        traceId = span.spanContext().traceId;
        await bus.sendTask({
          fromAgent: 'beta',
          toAgent: 'alpha',
          messageType: 'task',
          payload: 1,
        });
      });
      const [info] = await got.wait();
      expect(String(info?.headers.traceparent)).toContain(traceId);
    });

    it('cancel() stops delivery; queued tasks wait for the next subscriber', async () => {
      const first = collector<AgentMessage>(1);
      const sub = await bus.subscribe('beta', async (m) => first.push(m));
      await bus.sendTask({ fromAgent: 'alpha', toAgent: 'beta', messageType: 'task', payload: 1 });
      await first.wait();
      await sub.cancel();
      await bus.sendTask({ fromAgent: 'alpha', toAgent: 'beta', messageType: 'task', payload: 2 });
      await sleep(100);
      expect(first.items).toHaveLength(1);
      const second = collector<AgentMessage>(1);
      await bus.subscribe('beta', async (m) => second.push(m));
      expect((await second.wait()).map((m) => m.payload)).toEqual([2]);
    });

    it('close() lets in-flight handlers finish, then refuses publishes with a 503', async () => {
      const started = deferred<void>();
      let finished = false;
      await bus.subscribe('alpha', async () => {
        started.resolve();
        await sleep(200);
        finished = true;
      });
      await bus.sendTask({ fromAgent: 'beta', toAgent: 'alpha', messageType: 'task', payload: 1 });
      await started.promise;
      await bus.close();
      expect(finished).toBe(true);
      expect(bus.state).toBe('closed');
      await expectAppError(
        bus.sendTask({ fromAgent: 'beta', toAgent: 'alpha', messageType: 'task', payload: 2 }),
        ErrorCode.DependencyUnavailable,
      );
    });
  });
}
