import { Logger } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { injectTraceContext, withExtractedContext, withSpan } from '../observability/tracing';
import type { AgentMessage, AgentMessageInput } from './agent-message.schema';
import type { BusOptions } from './bus-options';
import { BusTopology } from './bus-topology';
import { decodeMessage, encodeMessage, encodeResponse, type ResponseInput } from './message-codec';
import {
  type BusState,
  type DeliveryInfo,
  MessageBus,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from './message-bus';
import { ResponseWaiters } from './response-waiters';

/** A message sitting in an in-memory queue (its wire form, decoded again at delivery). */
interface Envelope {
  body: Buffer;
  priority: number;
  headers: Record<string, unknown>;
  routingKey: string;
}

interface MemConsumer {
  handler: MessageHandler;
  prefetch: number;
  inFlight: Set<Promise<void>>;
  cancelled: boolean;
}

/** A queue with RabbitMQ's ordering: highest priority first, FIFO within a priority. */
class MemQueue {
  /** One FIFO per priority 0..10. */
  private readonly buckets: Envelope[][] = Array.from({ length: 11 }, () => []);
  private size = 0;
  readonly consumers: MemConsumer[] = [];
  private nextConsumer = 0;

  constructor(
    readonly name: string,
    /** Where a rejected message goes: another queue's name, or undefined = parking. */
    readonly deadLetterTo: 'redispatch' | 'parking' | 'none',
  ) {}

  get length(): number {
    return this.size;
  }

  push(env: Envelope): void {
    this.buckets[Math.max(0, Math.min(10, env.priority))].push(env);
    this.size++;
  }

  shift(): Envelope | undefined {
    for (let p = 10; p >= 0; p--) {
      const b = this.buckets[p];
      if (b.length > 0) {
        this.size--;
        return b.shift();
      }
    }
    return undefined;
  }

  /** Next consumer with room for another message, round-robin. */
  pickConsumer(): MemConsumer | undefined {
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.nextConsumer + i) % n];
      if (!c.cancelled && c.inFlight.size < c.prefetch) {
        this.nextConsumer = (this.nextConsumer + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }
}

/**
 * In-process transport with the same contract as RabbitMQ (one contract test suite runs against
 * both): the same validation and size limit at publish and at delivery, priority ordering,
 * prefetch, ack-after-handler, dead-lettering of failed tasks to `orchestrator.priority` and of
 * unprocessable messages to the parking queue, fanout broadcasts, correlation-id responses.
 * For single-process mode and fast tests; nothing survives the process.
 */
export class MemoryMessageBus extends MessageBus {
  private readonly logger = new Logger(MemoryMessageBus.name);
  readonly topology: BusTopology;
  private readonly waiters: ResponseWaiters;
  private readonly queues = new Map<string, MemQueue>();
  private readonly broadcastQueues = new Set<MemQueue>();
  private currentState: BusState = 'connecting';
  private broadcastSeq = 0;
  private replyReady = false;
  private stopping = false;

  constructor(readonly options: BusOptions) {
    super();
    this.topology = new BusTopology(options.namespace);
    this.waiters = new ResponseWaiters(1000, options.requestTimeoutMs);
    this.queue(this.topology.orchestratorQueue, 'parking');
    this.queue(this.topology.parkingQueue, 'none');
  }

  get state(): BusState {
    return this.currentState;
  }

  get replyTo(): string {
    return this.topology.responseRoutingKey(this.options.instanceId);
  }

  async connect(): Promise<void> {
    if (this.currentState === 'closed') throw this.closedError();
    this.currentState = 'connected';
    this.ensureReplyQueue();
  }

  private closedError(): AppException {
    return AppException.unavailable('bus', 'The message bus is closed');
  }

  private queue(name: string, deadLetterTo: MemQueue['deadLetterTo']): MemQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = new MemQueue(name, deadLetterTo);
      this.queues.set(name, q);
    }
    return q;
  }

  // ---------------------------------------------------------------- publishing

  async sendTask(input: AgentMessageInput): Promise<AgentMessage> {
    const enc = encodeMessage(input, this.options.maxMessageBytes);
    const q = this.queue(this.topology.agentQueue(enc.message.toAgent), 'redispatch');
    await this.publish(
      enc.message,
      enc.body,
      [q],
      this.topology.taskRoutingKey(enc.message.toAgent),
    );
    return enc.message;
  }

  async sendResponse(request: AgentMessage, response: ResponseInput): Promise<AgentMessage> {
    const enc = encodeResponse(request, response, this.options.maxMessageBytes);
    const toAgent = enc.message.toAgent;
    const key = request.replyTo ?? this.topology.responseRoutingKey(toAgent);
    const name = key.endsWith('.response') ? key.slice(0, -'.response'.length) : undefined;
    const q = name === undefined ? undefined : this.queues.get(this.topology.responseQueue(name));
    if (!q) {
      // What RabbitMQ does with a mandatory message nobody is bound for.
      throw new AppException(
        ErrorCode.NotFound,
        `Nobody listens for '${key}' on ${this.topology.responsesExchange}: the broker returned the message`,
        { exchange: this.topology.responsesExchange, routingKey: key },
      );
    }
    await this.publish(enc.message, enc.body, [q], key);
    return enc.message;
  }

  async broadcastEvent(input: AgentMessageInput): Promise<AgentMessage> {
    const enc = encodeMessage(input, this.options.maxMessageBytes);
    await this.publish(enc.message, enc.body, [...this.broadcastQueues], '');
    return enc.message;
  }

  async request(input: AgentMessageInput, timeoutMs?: number): Promise<AgentMessage> {
    this.ensureReplyQueue();
    const enc = encodeMessage({ ...input, replyTo: this.replyTo }, this.options.maxMessageBytes);
    // Only the agent the request went to may answer it, for the same attempt.
    const response = this.waiters.wait(
      enc.message.correlationId,
      timeoutMs ?? this.options.requestTimeoutMs,
      { fromAgent: enc.message.toAgent, attempt: enc.message.attempt },
    );
    try {
      const q = this.queue(this.topology.agentQueue(enc.message.toAgent), 'redispatch');
      await this.publish(
        enc.message,
        enc.body,
        [q],
        this.topology.taskRoutingKey(enc.message.toAgent),
      );
    } catch (e) {
      response.catch(() => undefined);
      throw e;
    }
    return response;
  }

  async waitForResponse(correlationId: string, timeoutMs?: number): Promise<AgentMessage> {
    this.ensureReplyQueue();
    return this.waiters.wait(correlationId, timeoutMs ?? this.options.requestTimeoutMs);
  }

  private ensureReplyQueue(): void {
    if (this.replyReady) return;
    this.replyReady = true;
    const q = this.queue(this.topology.responseQueue(this.options.instanceId), 'parking');
    this.addConsumer(q, Math.max(this.options.prefetch, 200), async (message) => {
      const outcome = this.waiters.deliver(message);
      if (outcome !== 'delivered') {
        this.options.metrics?.duplicateRepliesTotal.inc({ reason: outcome });
      }
    });
  }

  private async publish(
    message: AgentMessage,
    body: Buffer,
    targets: MemQueue[],
    routingKey: string,
  ): Promise<void> {
    if (this.currentState === 'closed') throw this.closedError();
    await withSpan(
      'message_send',
      {
        'messaging.system': 'memory',
        'messaging.message.id': message.id,
        'messaging.message.conversation_id': message.correlationId,
        'switchyard.message_type': message.messageType,
        'switchyard.to_agent': message.toAgent,
      },
      async () => {
        const headers = injectTraceContext({});
        for (const q of targets) {
          q.push({ body, priority: message.priority, headers: { ...headers }, routingKey });
          this.scheduleDispatch(q);
        }
      },
    );
    this.options.metrics?.busMessagesTotal.inc({
      message_type: message.messageType,
      direction: 'out',
    });
  }

  // ---------------------------------------------------------------- consuming

  async subscribe(
    agentId: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const q = this.queue(this.topology.agentQueue(agentId), 'redispatch');
    return this.addConsumer(q, options.prefetch ?? this.options.prefetch, handler);
  }

  override async subscribeRedispatch(
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const q = this.queue(this.topology.orchestratorQueue, 'parking');
    return this.addConsumer(q, options.prefetch ?? this.options.prefetch, handler);
  }

  async subscribeBroadcasts(handler: MessageHandler): Promise<Subscription> {
    const q = this.queue(
      this.topology.broadcastQueue(this.options.instanceId, ++this.broadcastSeq),
      'parking',
    );
    this.broadcastQueues.add(q);
    const sub = this.addConsumer(q, this.options.prefetch, handler);
    return {
      cancel: async () => {
        this.broadcastQueues.delete(q);
        await sub.cancel();
        this.queues.delete(q.name);
      },
    };
  }

  async subscribeResponses(name: string, handler: MessageHandler): Promise<Subscription> {
    const q = this.queue(this.topology.responseQueue(name), 'parking');
    return this.addConsumer(q, this.options.prefetch, handler);
  }

  private addConsumer(q: MemQueue, prefetch: number, handler: MessageHandler): Subscription {
    if (this.currentState === 'closed' || this.stopping) throw this.closedError();
    const consumer: MemConsumer = { handler, prefetch, inFlight: new Set(), cancelled: false };
    q.consumers.push(consumer);
    this.scheduleDispatch(q);
    return {
      cancel: async () => {
        if (consumer.cancelled) return;
        consumer.cancelled = true;
        const i = q.consumers.indexOf(consumer);
        if (i >= 0) q.consumers.splice(i, 1);
        await Promise.allSettled([...consumer.inFlight]);
      },
    };
  }

  private readonly scheduled = new Set<MemQueue>();

  /** Delivers asynchronously (like a broker), so a publisher never runs the handler in its own stack. */
  private scheduleDispatch(q: MemQueue): void {
    if (this.scheduled.has(q)) return;
    this.scheduled.add(q);
    setImmediate(() => {
      this.scheduled.delete(q);
      this.dispatch(q);
    });
  }

  private dispatch(q: MemQueue): void {
    if (this.stopping) return;
    while (q.length > 0) {
      const consumer = q.pickConsumer();
      if (!consumer) return;
      const env = q.shift()!;
      const work = this.deliver(q, consumer, env);
      consumer.inFlight.add(work);
      void work.finally(() => {
        consumer.inFlight.delete(work);
        this.scheduleDispatch(q);
      });
    }
  }

  private async deliver(q: MemQueue, consumer: MemConsumer, env: Envelope): Promise<void> {
    const decoded = decodeMessage(env.body, this.options.maxMessageBytes);
    if (!decoded.ok) {
      this.logger.warn(`unprocessable message on ${q.name} dead-lettered: ${decoded.reason}`);
      this.deadLetter(q, env, 'parking', { 'x-switchyard-error': decoded.reason });
      return;
    }
    const message = decoded.message;
    this.options.metrics?.busMessagesTotal.inc({
      message_type: message.messageType,
      direction: 'in',
    });
    const info: DeliveryInfo = { redelivered: false, headers: env.headers };
    if (q.name === this.topology.orchestratorQueue) {
      const death = env.headers['x-death'];
      if (Array.isArray(death) && death.length > 0) {
        info.deadLetterReason = (death[0] as { reason?: string }).reason;
      }
    }
    try {
      await withExtractedContext(env.headers, () =>
        withSpan(
          'message_receive',
          {
            'messaging.system': 'memory',
            'messaging.source.name': q.name,
            'messaging.message.id': message.id,
            'switchyard.message_type': message.messageType,
            'switchyard.to_agent': message.toAgent,
          },
          () => consumer.handler(message, info),
        ),
      );
    } catch (e) {
      this.logger.warn(
        `handler for ${q.name} failed on message ${message.id}: ${(e as Error).message}; dead-lettering it`,
      );
      this.deadLetter(q, env, q.deadLetterTo, {});
    }
  }

  /** RabbitMQ-style dead-lettering, with an `x-death` header saying why. */
  private deadLetter(
    from: MemQueue,
    env: Envelope,
    to: MemQueue['deadLetterTo'],
    extra: Record<string, unknown>,
  ): void {
    const target =
      to === 'redispatch'
        ? this.queues.get(this.topology.orchestratorQueue)
        : this.queues.get(this.topology.parkingQueue);
    if (!target) return;
    const death = { reason: 'rejected', queue: from.name, count: 1 };
    const prior = Array.isArray(env.headers['x-death'])
      ? (env.headers['x-death'] as unknown[])
      : [];
    target.push({
      ...env,
      headers: { ...env.headers, ...extra, 'x-death': [death, ...prior] },
    });
    this.scheduleDispatch(target);
  }

  /** Messages waiting in a queue (by full name); for tests and the CLI. */
  async inspectQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    const q = this.queues.get(queue);
    if (!q) throw AppException.notFound('queue', queue);
    return { messageCount: q.length, consumerCount: q.consumers.length };
  }

  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.stopping = true;
    const inFlight = [...this.queues.values()].flatMap((q) =>
      q.consumers.flatMap((c) => [...c.inFlight]),
    );
    await Promise.race([
      Promise.allSettled(inFlight),
      new Promise((r) => setTimeout(r, this.options.shutdownTimeoutMs).unref()),
    ]);
    this.currentState = 'closed';
    this.waiters.rejectAll(this.closedError());
  }
}
