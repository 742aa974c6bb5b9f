import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { injectTraceContext, withExtractedContext, withSpan } from '../observability/tracing';
import type { AgentMessage, AgentMessageInput } from './agent-message.schema';
import type { BusOptions } from './bus-options';
import { BusTopology } from './bus-topology';
import {
  decodeMessage,
  type EncodedMessage,
  encodeMessage,
  encodeResponse,
  type ResponseInput,
} from './message-codec';
import {
  type BusState,
  type DeliveryInfo,
  MessageBus,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from './message-bus';
import { ResponseWaiters } from './response-waiters';

type SubKind = 'tasks' | 'responses' | 'broadcasts' | 'redispatch' | 'replies';

interface RabbitSubscription {
  kind: SubKind;
  queue: string;
  prefetch: number;
  handler: MessageHandler;
  /** Declares the queue and its bindings (idempotent; run again after every reconnect). */
  declare: (ch: Channel) => Promise<void>;
  channel?: Channel;
  consumerTag?: string;
  inFlight: Set<Promise<void>>;
  cancelled: boolean;
  reattachTimer?: NodeJS.Timeout;
  reattachAttempt: number;
  attaching?: Promise<void>;
}

/** The broker gave a mandatory message back: no queue is bound for its routing key. */
class UnroutableError extends Error {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
  ) {
    super(`no queue is bound to '${exchange}' for routing key '${routingKey}'`);
    this.name = 'UnroutableError';
  }
}

class PublishDeadlineError extends Error {
  constructor() {
    super('publish deadline passed');
    this.name = 'PublishDeadlineError';
  }
}

/** How often unconfirmed publishes are checked against their deadline. */
const DEADLINE_SWEEP_MS = 50;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
const backoff = (attempt: number): number =>
  Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5);

/**
 * The RabbitMQ transport, on bare amqplib with its own recovery (see docs/MESSAGE-BUS.md for why
 * not @golevelup/amqp-connection-manager):
 *
 * - one connection (`noDelay`), one confirm channel for publishing, one channel for topology
 *   declarations, one channel per subscription (so each has its own prefetch);
 * - on connection loss it reconnects with backoff, re-declares the topology and re-attaches every
 *   live subscription by itself;
 * - a publish waits for the connection and the broker's confirm until BUS_PUBLISH_TIMEOUT_MS, then
 *   fails with DEPENDENCY_UNAVAILABLE (503). It is retried on a new channel if the old one died
 *   before confirming, so a confirmed message may be delivered twice (same message id) but a
 *   resolved publish is never lost. At most BUS_MAX_PENDING_PUBLISHES publishes wait at once.
 */
export class RabbitMqMessageBus extends MessageBus {
  private readonly logger = new Logger(RabbitMqMessageBus.name);
  readonly topology: BusTopology;
  private readonly waiters: ResponseWaiters;

  private currentState: BusState = 'connecting';
  private conn?: ChannelModel;
  private pubCh?: ConfirmChannel;
  private topoCh?: Promise<Channel>;
  private loop?: Promise<void>;
  private loopWake?: () => void;
  private readonly stateListeners = new Set<() => void>();

  private readonly subs = new Set<RabbitSubscription>();
  private replySub?: Promise<void>;
  private broadcastSeq = 0;
  /** Agent queues declared recently: re-declared every `leaseRefreshMs` to renew their x-expires lease. */
  private readonly declaredAgents = new Map<
    string,
    { at: number; ready: Promise<void>; done: boolean }
  >();
  private readonly leaseRefreshMs: number;
  private readonly returned = new Map<string, { returned: boolean }>();
  private readonly publishesIdle: (() => void)[] = [];
  /** Unconfirmed publishes and their deadlines, checked by one sweeper instead of a timer each. */
  private readonly confirmDeadlines = new Set<{ deadline: number; expire: () => void }>();
  private sweeper?: NodeJS.Timeout;
  private pendingPublishes = 0;

  /** No new consumers/deliveries; in-flight handlers may still publish. */
  private stopping = false;
  /** Everything refused. */
  private closed = false;
  private closePromise?: Promise<void>;

  constructor(readonly options: BusOptions) {
    super();
    if (options.taskTtlMs >= options.agentQueueExpiresMs) {
      throw new Error(
        `BUS_TASK_TTL_MS (${options.taskTtlMs}) must be smaller than BUS_AGENT_QUEUE_EXPIRES_MS (${options.agentQueueExpiresMs}), or tasks in an abandoned queue would be deleted with it`,
      );
    }
    this.topology = new BusTopology(options.namespace);
    this.waiters = new ResponseWaiters(1000, options.requestTimeoutMs);
    this.leaseRefreshMs = Math.max(
      1000,
      Math.min(60_000, Math.floor((options.agentQueueExpiresMs - options.taskTtlMs) / 4)),
    );
  }

  get state(): BusState {
    return this.currentState;
  }

  /** Routing key of this instance's reply queue (what `request()` puts in `replyTo`). */
  get replyTo(): string {
    return this.topology.responseRoutingKey(this.options.instanceId);
  }

  // ---------------------------------------------------------------- connection

  /**
   * Connects (retrying with backoff) and declares the topology. Idempotent. Without `timeoutMs`
   * it waits until connected; with it, it rejects with DEPENDENCY_UNAVAILABLE after that long while
   * the retries go on in the background.
   */
  async connect(timeoutMs?: number): Promise<void> {
    if (this.closed) throw this.closedError();
    this.startLoop();
    await this.waitConnected(timeoutMs === undefined ? Infinity : Date.now() + timeoutMs);
    // This instance's reply queue exists from the start, so `replyTo` is routable before the first
    // request and a response can never be returned for want of it.
    await this.ensureReplyConsumer();
  }

  private startLoop(): void {
    if (this.loop || this.closed) return;
    this.loop = this.connectLoop().finally(() => {
      this.loop = undefined;
    });
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.establish();
        return;
      } catch (e) {
        if (this.closed) return;
        if (attempt === 0 || attempt % 10 === 0) {
          this.logger.warn(
            `RabbitMQ not reachable (attempt ${attempt + 1}): ${(e as Error).message}`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff(attempt));
          this.loopWake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.loopWake = undefined;
      }
    }
  }

  private connectUrl(): string {
    const url = new URL(this.options.amqpUrl);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '15');
    return url.toString();
  }

  private async establish(): Promise<void> {
    const conn = await amqp.connect(this.connectUrl(), {
      // Without it, Nagle + delayed ACK cost ~40 ms per request/response round trip.
      noDelay: true,
      timeout: 5000,
      clientProperties: { connection_name: `switchyard ${this.options.instanceId}` },
    });
    conn.on('error', (err: Error) => this.logger.warn(`RabbitMQ connection error: ${err.message}`));
    conn.on('close', () => {
      closedHandles.add(conn);
      this.onConnectionLost(conn);
    });
    conn.on('blocked', (reason: string) =>
      this.logger.warn(`RabbitMQ blocked publishing: ${reason}`),
    );
    try {
      const pub = await this.openPublisher(conn);
      if (this.closed) throw this.closedError();
      // A close emitted in the same read as the last setup reply was ignored (not current yet).
      if (closedHandles.has(conn) || closedHandles.has(pub)) {
        throw new Error('connection closed during setup');
      }
      this.conn = conn;
      this.pubCh = pub;
      this.declaredAgents.clear();
      // Re-attach every live subscription before announcing the connection.
      await Promise.all(
        [...this.subs].map((sub) =>
          this.attach(sub).catch((e: Error) => {
            this.logger.error(`re-attaching consumer of ${sub.queue} failed: ${e.message}`);
            this.scheduleReattach(sub);
          }),
        ),
      );
      if (this.conn !== conn) throw new Error('connection lost while re-attaching consumers');
      this.setState('connected');
      this.logger.log(`connected to RabbitMQ as ${this.options.instanceId}`);
    } catch (e) {
      if (this.conn === conn) {
        this.conn = undefined;
        this.pubCh = undefined;
      }
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  private async openPublisher(conn: ChannelModel): Promise<ConfirmChannel> {
    const ch = await conn.createConfirmChannel();
    ch.on('error', (err: Error) => this.logger.warn(`publisher channel error: ${err.message}`));
    ch.on('return', (msg: ConsumeMessage) => {
      const id = msg.properties.messageId as string | undefined;
      const mark = id === undefined ? undefined : this.returned.get(id);
      if (mark) mark.returned = true;
    });
    ch.on('close', () => {
      closedHandles.add(ch);
      if (this.pubCh !== ch) return;
      this.pubCh = undefined;
      // Channel-level failure on a live connection: open a new publisher channel. Deferred, since
      // amqplib closes the channels first when the whole connection goes.
      setImmediate(() => {
        if (this.conn !== conn || this.closed) return;
        this.setState('reconnecting');
        this.openPublisher(conn)
          .then((next) => {
            if (this.conn !== conn || this.closed || closedHandles.has(next)) {
              return void next.close().catch(() => undefined);
            }
            this.pubCh = next;
            this.setState('connected');
          })
          .catch((e: Error) => {
            this.logger.warn(`reopening publisher channel failed (${e.message}); reconnecting`);
            void conn.close().catch(() => undefined);
          });
      });
    });
    await this.declareTopology(ch);
    return ch;
  }

  private async declareTopology(ch: Channel): Promise<void> {
    const t = this.topology;
    await ch.assertExchange(t.tasksExchange, 'topic', { durable: true });
    await ch.assertExchange(t.broadcastsExchange, 'fanout', { durable: true });
    await ch.assertExchange(t.responsesExchange, 'direct', { durable: true });
    await ch.assertExchange(t.deadLetterExchange, 'topic', { durable: true });
    await ch.assertQueue(t.orchestratorQueue, {
      durable: true,
      maxPriority: 10,
      deadLetterExchange: t.deadLetterExchange,
      deadLetterRoutingKey: BusTopology.PARKING_KEY,
    });
    await ch.bindQueue(t.orchestratorQueue, t.deadLetterExchange, 'agent.#');
    await ch.assertQueue(t.parkingQueue, { durable: true });
    await ch.bindQueue(t.parkingQueue, t.deadLetterExchange, BusTopology.PARKING_KEY);
  }

  private onConnectionLost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.pubCh = undefined;
    this.topoCh = undefined;
    this.declaredAgents.clear();
    for (const sub of this.subs) {
      sub.channel = undefined;
      sub.consumerTag = undefined;
    }
    if (this.closed) return;
    this.logger.warn('RabbitMQ connection lost; reconnecting');
    this.setState('reconnecting');
    this.startLoop();
  }

  private setState(state: BusState): void {
    if (this.closed && state !== 'closed') return;
    this.currentState = state;
    for (const l of [...this.stateListeners]) l();
  }

  /** Resolves when connected with a publisher channel; rejects (503) at `deadline`. */
  private async waitConnected(deadline: number): Promise<ConfirmChannel> {
    for (;;) {
      if (this.closed) throw this.closedError();
      if (this.pubCh && this.currentState === 'connected') return this.pubCh;
      this.startLoop();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw AppException.unavailable(
          'rabbitmq',
          `RabbitMQ is unavailable: not connected within ${this.options.publishTimeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.stateListeners.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 2_147_483_647));
        this.stateListeners.add(done);
      });
    }
  }

  private closedError(): AppException {
    return AppException.unavailable('rabbitmq', 'The message bus is closed');
  }

  /** A channel for declarations: a precondition failure closes it, not the publisher channel. */
  private async topologyChannel(): Promise<Channel> {
    const conn = this.conn;
    if (!conn) throw AppException.unavailable('rabbitmq', 'RabbitMQ is not connected');
    if (!this.topoCh) {
      const p = conn.createChannel().then((ch) => {
        ch.on('error', (err: Error) => this.logger.warn(`topology channel: ${err.message}`));
        ch.on('close', () => {
          if (this.topoCh === p) this.topoCh = undefined;
        });
        return ch;
      });
      p.catch(() => {
        if (this.topoCh === p) this.topoCh = undefined;
      });
      this.topoCh = p;
    }
    return this.topoCh;
  }

  // ---------------------------------------------------------------- publishing

  async sendTask(input: AgentMessageInput): Promise<AgentMessage> {
    const enc = encodeMessage(input, this.options.maxMessageBytes);
    await this.publish(
      this.topology.tasksExchange,
      this.topology.taskRoutingKey(enc.message.toAgent),
      enc,
      true,
      enc.message.toAgent,
    );
    return enc.message;
  }

  async sendResponse(request: AgentMessage, response: ResponseInput): Promise<AgentMessage> {
    const enc = encodeResponse(request, response, this.options.maxMessageBytes);
    const toAgent = enc.message.toAgent;
    const key = request.replyTo ?? this.topology.responseRoutingKey(toAgent);
    await this.publish(this.topology.responsesExchange, key, enc, true);
    return enc.message;
  }

  async broadcastEvent(input: AgentMessageInput): Promise<AgentMessage> {
    const enc = encodeMessage(input, this.options.maxMessageBytes);
    // Not mandatory: a broadcast with no subscriber has nobody to lose it for.
    await this.publish(this.topology.broadcastsExchange, '', enc, false);
    return enc.message;
  }

  async request(input: AgentMessageInput, timeoutMs?: number): Promise<AgentMessage> {
    await this.ensureReplyConsumer();
    const enc = encodeMessage({ ...input, replyTo: this.replyTo }, this.options.maxMessageBytes);
    // Wait first, publish second: the response may arrive before the publish confirm.
    const response = this.waiters.wait(
      enc.message.correlationId,
      timeoutMs ?? this.options.requestTimeoutMs,
    );
    try {
      await this.publish(
        this.topology.tasksExchange,
        this.topology.taskRoutingKey(enc.message.toAgent),
        enc,
        true,
        enc.message.toAgent,
      );
    } catch (e) {
      response.catch(() => undefined);
      throw e;
    }
    return response;
  }

  async waitForResponse(correlationId: string, timeoutMs?: number): Promise<AgentMessage> {
    const response = this.waiters.wait(correlationId, timeoutMs ?? this.options.requestTimeoutMs);
    this.ensureReplyConsumer().catch((e: Error) =>
      this.logger.warn(`reply consumer not ready: ${e.message}`),
    );
    return response;
  }

  private async publish(
    exchange: string,
    routingKey: string,
    enc: EncodedMessage,
    mandatory: boolean,
    agentQueueFor?: string,
  ): Promise<void> {
    if (this.closed) throw this.closedError();
    if (this.pendingPublishes >= this.options.maxPendingPublishes) {
      throw AppException.unavailable(
        'rabbitmq',
        `RabbitMQ is not keeping up: ${this.pendingPublishes} publishes already waiting (BUS_MAX_PENDING_PUBLISHES)`,
      );
    }
    const m = enc.message;
    this.pendingPublishes++;
    const work = withSpan(
      'message_send',
      {
        'messaging.destination.name': exchange,
        'messaging.rabbitmq.destination.routing_key': routingKey,
        'messaging.message.id': m.id,
        'switchyard.message_type': m.messageType,
      },
      async () => {
        const headers = injectTraceContext({});
        const options: Options.Publish = {
          persistent: true,
          mandatory,
          contentType: 'application/json',
          messageId: m.id,
          correlationId: m.correlationId,
          type: m.messageType,
          priority: m.priority,
          timestamp: Math.floor(Date.parse(m.timestamp) / 1000),
          replyTo: m.replyTo,
          appId: 'switchyard',
          headers,
        };
        await this.publishConfirmed(exchange, routingKey, enc.body, options, agentQueueFor);
      },
    );
    try {
      await work;
      this.options.metrics?.busMessagesTotal.inc({ message_type: m.messageType, direction: 'out' });
    } finally {
      if (--this.pendingPublishes === 0) {
        for (const resolve of this.publishesIdle.splice(0)) resolve();
      }
    }
  }

  /** Resolves when no publish is waiting for the broker (used by close()). */
  private publishesSettled(): Promise<void> {
    if (this.pendingPublishes === 0) return Promise.resolve();
    return new Promise((resolve) => this.publishesIdle.push(resolve));
  }

  /** Publishes until the broker confirms or the deadline passes (retrying across reconnects). */
  private async publishConfirmed(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: Options.Publish,
    agentQueueFor?: string,
  ): Promise<void> {
    const deadline = Date.now() + this.options.publishTimeoutMs;
    let returnedOnce = false;
    for (let attempt = 0; ; attempt++) {
      let lastError: Error;
      try {
        // Fast path without awaits when connected and the agent queue is known.
        const ch =
          this.pubCh && this.currentState === 'connected'
            ? this.pubCh
            : await this.waitConnected(deadline);
        if (agentQueueFor !== undefined && !this.agentQueueFresh(agentQueueFor)) {
          await this.ensureAgentQueue(agentQueueFor, deadline);
        }
        // No wait for 'drain': what amqplib buffers is bounded by BUS_MAX_PENDING_PUBLISHES.
        await this.publishOnce(ch, exchange, routingKey, body, options, deadline);
        return;
      } catch (e) {
        lastError = e as Error;
        if (e instanceof AppException) throw e;
        if (e instanceof UnroutableError) {
          // A task queue deleted behind our back: declare it again and retry once.
          if (agentQueueFor !== undefined && !returnedOnce) {
            returnedOnce = true;
            this.declaredAgents.delete(agentQueueFor);
            continue;
          }
          throw new AppException(
            ErrorCode.NotFound,
            `Nobody listens for '${routingKey}' on ${exchange}: the broker returned the message`,
            { exchange, routingKey },
          );
        }
      }
      if (Date.now() >= deadline || lastError instanceof PublishDeadlineError) {
        throw AppException.unavailable(
          'rabbitmq',
          `RabbitMQ did not confirm the message within ${this.options.publishTimeoutMs} ms: ${lastError.message}`,
          lastError,
        );
      }
      // The channel died before confirming (broker restart, channel error): retry on the next one.
      await sleep(Math.min(50 * (attempt + 1), 500));
    }
  }

  private publishOnce(
    ch: ConfirmChannel,
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: Options.Publish,
    deadline: number,
  ): Promise<void> {
    const id = options.messageId as string;
    const mark = { returned: false };
    this.returned.set(id, mark);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        this.confirmDeadlines.delete(watch);
        if (this.returned.get(id) === mark) this.returned.delete(id);
        if (err) reject(err);
        else if (mark.returned) reject(new UnroutableError(exchange, routingKey));
        else resolve();
      };
      const watch = { deadline, expire: () => finish(new PublishDeadlineError()) };
      this.watchDeadline(watch);
      try {
        this.corkBurst();
        ch.publish(exchange, routingKey, body, options, (err: unknown) => {
          finish(err ? toError(err) : undefined);
        });
      } catch (e) {
        finish(toError(e));
      }
    });
  }

  private watchDeadline(watch: { deadline: number; expire: () => void }): void {
    this.confirmDeadlines.add(watch);
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const w of this.confirmDeadlines) if (w.deadline <= now) w.expire();
      if (this.confirmDeadlines.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, DEADLINE_SWEEP_MS);
    this.sweeper.unref();
  }

  private corked = false;
  private writesThisTurn = 0;

  /**
   * Coalesces a burst of publishes (or acks) into few socket writes: amqplib writes every frame
   * on its own (one syscall and, with noDelay, one TCP segment each). A lone write (a request, a
   * response) goes out at once — corking it costs up to a millisecond of round trip under load;
   * from the second write of the same event-loop turn the socket is corked, and uncorked once
   * amqplib's writer (scheduled on setImmediate) has written the burst, so 500 publishes leave in
   * a handful of writes.
   */
  private corkBurst(): void {
    if (++this.writesThisTurn === 1) {
      setImmediate(() => {
        this.writesThisTurn = 0;
      });
      return;
    }
    if (this.corked) return;
    const socket = (this.conn as unknown as { connection?: { stream?: Partial<Socket> } })
      ?.connection?.stream;
    if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return;
    this.corked = true;
    socket.cork();
    // amqplib's writer is scheduled (setImmediate) from a nextTick after the first write, so
    // uncork one immediate later, once it has written the burst.
    setImmediate(() =>
      setImmediate(() => {
        this.corked = false;
        socket.uncork?.();
      }),
    );
  }

  /**
   * Makes sure `agent.{id}.tasks` exists before a task is published to it, and renews its
   * x-expires lease: a queue cannot expire (dropping its messages) while tasks are still being
   * sent, and every task it holds reaches its TTL (and is dead-lettered) before it could expire.
   */
  private agentQueueFresh(agentId: string): boolean {
    const known = this.declaredAgents.get(agentId);
    return known !== undefined && known.done && Date.now() - known.at < this.leaseRefreshMs;
  }

  private async ensureAgentQueue(agentId: string, deadline: number): Promise<void> {
    const now = Date.now();
    const known = this.declaredAgents.get(agentId);
    if (known && now - known.at < this.leaseRefreshMs) return withDeadline(known.ready, deadline);
    const ready = (async () => {
      const ch = await this.topologyChannel();
      await this.declareAgentQueue(ch, agentId);
    })();
    const entry = { at: now, ready, done: false };
    this.declaredAgents.set(agentId, entry);
    ready.then(
      () => {
        entry.done = true;
      },
      () => {
        if (this.declaredAgents.get(agentId) === entry) this.declaredAgents.delete(agentId);
      },
    );
    try {
      await withDeadline(ready, deadline);
    } catch (e) {
      if (e instanceof PublishDeadlineError || e instanceof AppException) throw e;
      throw preconditionOr(e, `agent queue ${this.topology.agentQueue(agentId)}`);
    }
  }

  private async declareAgentQueue(ch: Channel, agentId: string): Promise<void> {
    const t = this.topology;
    const queue = t.agentQueue(agentId);
    await ch.assertQueue(queue, {
      durable: true,
      maxPriority: 10,
      expires: this.options.agentQueueExpiresMs,
      messageTtl: this.options.taskTtlMs,
      deadLetterExchange: t.deadLetterExchange,
    });
    await ch.bindQueue(queue, t.tasksExchange, t.taskRoutingKey(agentId));
  }

  // ---------------------------------------------------------------- consuming

  async subscribe(
    agentId: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const queue = this.topology.agentQueue(agentId);
    return this.addSubscription({
      kind: 'tasks',
      queue,
      prefetch: options.prefetch ?? this.options.prefetch,
      handler,
      declare: (ch) => this.declareAgentQueue(ch, agentId),
    });
  }

  override async subscribeRedispatch(
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.addSubscription({
      kind: 'redispatch',
      queue: this.topology.orchestratorQueue,
      prefetch: options.prefetch ?? this.options.prefetch,
      handler,
      declare: (ch) => this.declareTopology(ch),
    });
  }

  async subscribeBroadcasts(handler: MessageHandler): Promise<Subscription> {
    const t = this.topology;
    const queue = t.broadcastQueue(this.options.instanceId, ++this.broadcastSeq);
    return this.addSubscription({
      kind: 'broadcasts',
      queue,
      prefetch: this.options.prefetch,
      handler,
      declare: async (ch) => {
        await ch.assertQueue(queue, {
          durable: true,
          expires: this.options.replyQueueExpiresMs,
          deadLetterExchange: t.deadLetterExchange,
          deadLetterRoutingKey: BusTopology.PARKING_KEY,
        });
        await ch.bindQueue(queue, t.broadcastsExchange, '');
      },
    });
  }

  async subscribeResponses(name: string, handler: MessageHandler): Promise<Subscription> {
    return this.addSubscription({
      kind: 'responses',
      queue: this.topology.responseQueue(name),
      prefetch: this.options.prefetch,
      handler,
      declare: (ch) => this.declareResponseQueue(ch, name),
    });
  }

  private async declareResponseQueue(ch: Channel, name: string): Promise<void> {
    const t = this.topology;
    const queue = t.responseQueue(name);
    await ch.assertQueue(queue, {
      durable: true,
      expires: this.options.replyQueueExpiresMs,
      deadLetterExchange: t.deadLetterExchange,
      deadLetterRoutingKey: BusTopology.PARKING_KEY,
    });
    await ch.bindQueue(queue, t.responsesExchange, t.responseRoutingKey(name));
  }

  /** This instance's reply queue, consumed once, feeding {@link ResponseWaiters}. */
  private ensureReplyConsumer(): Promise<void> {
    if (!this.replySub) {
      const name = this.options.instanceId;
      const p = this.addSubscription({
        kind: 'replies',
        queue: this.topology.responseQueue(name),
        prefetch: Math.max(this.options.prefetch, 200),
        handler: async (message) => {
          if (!this.waiters.deliver(message)) {
            this.options.metrics?.duplicateRepliesTotal.inc({ reason: 'no_waiter' });
          }
        },
        declare: (ch) => this.declareResponseQueue(ch, name),
      }).then(() => undefined);
      p.catch(() => {
        if (this.replySub === p) this.replySub = undefined;
      });
      this.replySub = p;
    }
    return this.replySub;
  }

  private async addSubscription(
    init: Pick<RabbitSubscription, 'kind' | 'queue' | 'prefetch' | 'handler' | 'declare'>,
  ): Promise<Subscription> {
    if (this.stopping || this.closed) throw this.closedError();
    const sub: RabbitSubscription = {
      ...init,
      inFlight: new Set(),
      cancelled: false,
      reattachAttempt: 0,
    };
    this.subs.add(sub);
    if (!this.conn) {
      // Not connected yet: the (re)connect loop attaches it as soon as the broker answers.
      this.startLoop();
      return { cancel: () => this.cancelSubscription(sub) };
    }
    try {
      await this.attach(sub);
    } catch (e) {
      this.subs.delete(sub);
      throw preconditionOr(e, `queue ${sub.queue}`);
    }
    return { cancel: () => this.cancelSubscription(sub) };
  }

  private attach(sub: RabbitSubscription): Promise<void> {
    sub.attaching ??= this.attachOnce(sub).finally(() => {
      sub.attaching = undefined;
    });
    return sub.attaching;
  }

  private async attachOnce(sub: RabbitSubscription): Promise<void> {
    const conn = this.conn;
    if (!conn || sub.cancelled || this.stopping) return;
    if (sub.channel) return;
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) =>
      this.logger.warn(`consumer channel of ${sub.queue}: ${err.message}`),
    );
    ch.on('close', () => {
      closedHandles.add(ch);
      if (sub.channel !== ch) return;
      sub.channel = undefined;
      sub.consumerTag = undefined;
      // Channel died on a live connection (e.g. queue deleted): attach again by itself.
      if (this.conn === conn && !sub.cancelled && !this.stopping) this.scheduleReattach(sub);
    });
    try {
      await ch.prefetch(sub.prefetch);
      await sub.declare(ch);
      sub.channel = ch;
      const { consumerTag } = await ch.consume(sub.queue, (msg) => this.onDelivery(sub, ch, msg), {
        noAck: false,
      });
      sub.consumerTag = consumerTag;
      if (closedHandles.has(ch)) throw new Error(`consumer channel of ${sub.queue} closed`);
      sub.reattachAttempt = 0;
    } catch (e) {
      if (sub.channel === ch) sub.channel = undefined;
      await ch.close().catch(() => undefined);
      throw e;
    }
  }

  private scheduleReattach(sub: RabbitSubscription): void {
    if (sub.reattachTimer || sub.cancelled || this.stopping) return;
    sub.reattachTimer = setTimeout(() => {
      sub.reattachTimer = undefined;
      if (!this.conn) return; // the reconnect loop re-attaches it
      this.attach(sub).catch((e: Error) => {
        this.logger.warn(`re-attaching consumer of ${sub.queue} failed: ${e.message}`);
        this.scheduleReattach(sub);
      });
    }, backoff(sub.reattachAttempt++));
  }

  private onDelivery(sub: RabbitSubscription, ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer (queue deleted): re-declare and consume again.
      this.logger.warn(`consumer of ${sub.queue} cancelled by the broker; re-attaching`);
      if (sub.channel === ch) {
        sub.channel = undefined;
        void ch.close().catch(() => undefined);
        this.scheduleReattach(sub);
      }
      return;
    }
    const work = this.handleDelivery(sub, ch, msg);
    sub.inFlight.add(work);
    const done = () => void sub.inFlight.delete(work);
    work.then(done, done);
  }

  private async handleDelivery(
    sub: RabbitSubscription,
    ch: Channel,
    msg: ConsumeMessage,
  ): Promise<void> {
    const headers: Record<string, unknown> = msg.properties.headers ?? {};
    const decoded = decodeMessage(msg.content, this.options.maxMessageBytes);
    if (!decoded.ok) {
      await this.park(sub, ch, msg, decoded.reason);
      return;
    }
    const message = decoded.message;
    this.options.metrics?.busMessagesTotal.inc({
      message_type: message.messageType,
      direction: 'in',
    });
    const info: DeliveryInfo = { redelivered: msg.fields.redelivered, headers };
    if (sub.kind === 'redispatch') info.deadLetterReason = deathReason(headers);
    try {
      await withExtractedContext(headers, () =>
        withSpan(
          'message_receive',
          {
            'messaging.source.name': sub.queue,
            'messaging.message.id': message.id,
            'messaging.rabbitmq.redelivered': msg.fields.redelivered,
            'switchyard.message_type': message.messageType,
          },
          () => sub.handler(message, info),
        ),
      );
    } catch (e) {
      this.logger.warn(
        `handler for ${sub.queue} failed on message ${message.id}: ${(e as Error).message}; dead-lettering it`,
      );
      safely(() => ch.nack(msg, false, false));
      return;
    }
    // If the channel died meanwhile the ack is lost and the broker redelivers (redelivered=true).
    this.corkBurst(); // acks finishing in the same turn go out in one write
    safely(() => ch.ack(msg));
  }

  /** Moves an unprocessable message to the parking queue with the reason, then acks it. */
  private async park(
    sub: RabbitSubscription,
    ch: Channel,
    msg: ConsumeMessage,
    reason: string,
  ): Promise<void> {
    this.logger.warn(`unprocessable message on ${sub.queue} dead-lettered: ${reason}`);
    try {
      const pub = await this.waitConnected(Date.now() + this.options.publishTimeoutMs);
      const p = msg.properties;
      await this.publishOnce(
        pub,
        '',
        this.topology.parkingQueue,
        msg.content,
        {
          persistent: true,
          mandatory: true,
          contentType: p.contentType as string | undefined,
          messageId:
            (p.messageId as string | undefined) ?? `parked-${Date.now()}-${msg.fields.deliveryTag}`,
          correlationId: p.correlationId as string | undefined,
          type: p.type as string | undefined,
          headers: {
            ...(p.headers ?? {}),
            'x-switchyard-error': reason.slice(0, 1000),
            'x-switchyard-queue': sub.queue,
            'x-switchyard-routing-key': msg.fields.routingKey,
          },
        },
        Date.now() + this.options.publishTimeoutMs,
      );
      safely(() => ch.ack(msg));
    } catch (e) {
      // Could not park it: let the queue's dead-letter exchange take it instead.
      this.logger.warn(`parking failed (${(e as Error).message}); rejecting to the DLX`);
      safely(() => ch.nack(msg, false, false));
    }
  }

  private async cancelSubscription(sub: RabbitSubscription): Promise<void> {
    if (sub.cancelled) return;
    sub.cancelled = true;
    clearTimeout(sub.reattachTimer);
    await sub.attaching?.catch(() => undefined); // so a consumer being created is cancelled too
    const ch = sub.channel;
    if (ch && sub.consumerTag) await ch.cancel(sub.consumerTag).catch(() => undefined);
    await Promise.allSettled([...sub.inFlight]);
    this.subs.delete(sub);
    sub.channel = undefined;
    if (ch) await ch.close().catch(() => undefined);
    if (sub.kind === 'broadcasts' && this.conn) {
      try {
        const topo = await this.topologyChannel();
        await topo.deleteQueue(sub.queue);
      } catch {
        // x-expires removes it later.
      }
    }
  }

  // ---------------------------------------------------------------- shutdown

  /** Graceful: stop consuming, let in-flight handlers finish (bounded), then close. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.stopping = true;
    const subs = [...this.subs];
    await Promise.all(
      subs.map(async (sub) => {
        clearTimeout(sub.reattachTimer);
        if (sub.channel && sub.consumerTag) {
          await sub.channel.cancel(sub.consumerTag).catch(() => undefined);
        }
      }),
    );
    const inFlight = subs.flatMap((s) => [...s.inFlight]);
    const finished = await settleWithin(inFlight, this.options.shutdownTimeoutMs);
    if (!finished) {
      this.logger.warn(
        `shutdown: handlers still running after ${this.options.shutdownTimeoutMs} ms; their messages will be redelivered`,
      );
    }
    await settleWithin([this.publishesSettled()], this.options.publishTimeoutMs);
    this.closed = true;
    this.waiters.rejectAll(this.closedError());
    this.loopWake?.();
    for (const sub of subs) sub.cancelled = true;
    this.subs.clear();
    const conn = this.conn;
    this.conn = undefined;
    this.pubCh = undefined;
    this.topoCh = undefined;
    this.currentState = 'closed';
    for (const l of [...this.stateListeners]) l();
    if (conn) await conn.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  /** Test/ops helper: messages and consumers of a queue of this bus (by full name). */
  async inspectQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    const ch = await this.topologyChannel();
    const r = await ch.checkQueue(queue);
    return { messageCount: r.messageCount, consumerCount: r.consumerCount };
  }
}

/** Connections and channels amqplib has closed (a 'close' may arrive before we adopt them). */
const closedHandles = new WeakSet<object>();

function deathReason(headers: Record<string, unknown>): string | undefined {
  const deaths = headers['x-death'];
  if (!Array.isArray(deaths) || deaths.length === 0) return undefined;
  const first = deaths[0] as { reason?: unknown };
  return typeof first.reason === 'string' ? first.reason : undefined;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel is gone; the broker redelivers what was not acked.
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PublishDeadlineError()),
          Math.max(1, deadline - Date.now()),
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const all = Promise.allSettled(promises).then(() => true);
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([all, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A 406 PRECONDITION_FAILED on declare means the queue exists with other arguments: say so. */
function preconditionOr(e: unknown, what: string): Error {
  const err = toError(e);
  if (/PRECONDITION_FAILED|406/.test(err.message)) {
    return new AppException(
      ErrorCode.Conflict,
      `${what} exists with different arguments; every instance sharing BUS_NAMESPACE needs the same BUS_* queue settings: ${err.message}`,
      { what },
      { cause: err },
    );
  }
  return err;
}
