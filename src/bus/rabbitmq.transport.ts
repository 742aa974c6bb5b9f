import { Logger } from '@nestjs/common';
import type { AgentMessage, AgentMessageInput } from './agent-message.schema';
import type { BusOptions } from './bus-options';
import { BusTopology } from './bus-topology';
import {
  type BusState,
  MessageBus,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from './message-bus';
import { encodeMessage, encodeResponse, type ResponseInput } from './message-codec';
import { AmqpConnectionManager } from './rabbitmq/amqp-connection.manager';
import { busClosedError, settleWithin } from './rabbitmq/amqp.util';
import { ConfirmPublisher } from './rabbitmq/confirm.publisher';
import { ConsumerRegistry } from './rabbitmq/consumer.registry';
import { TopologyDeclarer } from './rabbitmq/topology.declarer';
import { ResponseWaiters } from './response-waiters';

/**
 * The RabbitMQ transport, on bare amqplib with its own recovery (see docs/MESSAGE-BUS.md for why
 * not @golevelup/amqp-connection-manager). A façade over four parts in `rabbitmq/`:
 *
 * - {@link AmqpConnectionManager}: the connection, reconnect with backoff, the publisher and
 *   declaration channels, the bus state;
 * - {@link ConfirmPublisher}: publishes that resolve only once the broker confirmed them;
 * - {@link ConsumerRegistry}: subscriptions, re-attached after every reconnect;
 * - {@link TopologyDeclarer}: exchanges, queues, bindings and the agent-queue lease.
 *
 * Replies to `request()` are accepted only from the agent the request went to and for the same
 * attempt; others are dropped and counted (`duplicate_replies_total{reason}`).
 */
export class RabbitMqMessageBus extends MessageBus {
  private readonly logger = new Logger(RabbitMqMessageBus.name);
  readonly topology: BusTopology;
  private readonly waiters: ResponseWaiters;
  private readonly declarer: TopologyDeclarer;
  private readonly connection: AmqpConnectionManager;
  private readonly publisher: ConfirmPublisher;
  private readonly consumers: ConsumerRegistry;
  private replySub?: Promise<void>;
  private broadcastSeq = 0;
  private closePromise?: Promise<void>;

  constructor(readonly options: BusOptions) {
    super();
    this.topology = new BusTopology(options.namespace);
    this.declarer = new TopologyDeclarer(this.topology, options, () =>
      this.connection.topologyChannel(),
    );
    this.waiters = new ResponseWaiters(1000, options.requestTimeoutMs);
    this.connection = new AmqpConnectionManager(options, {
      declareShared: (ch) => this.declarer.declareShared(ch),
      onReturn: (msg) => this.publisher.onReturn(msg),
      onConnected: async () => {
        this.declarer.reset();
        await this.consumers.reattachAll();
      },
      onLost: () => {
        this.declarer.reset();
        this.consumers.detachAll();
      },
    });
    this.publisher = new ConfirmPublisher(options, this.connection, this.declarer);
    this.consumers = new ConsumerRegistry(
      options,
      this.connection,
      this.publisher,
      this.topology.parkingQueue,
    );
  }

  get state(): BusState {
    return this.connection.state;
  }

  /** `host:port` of the RabbitMQ node this process is connected to (shown by /health/ready). */
  get connectedNode(): string | undefined {
    return this.connection.connectedNode;
  }

  /** How many nodes AMQP_URLS / AMQP_URL name. */
  get nodeCount(): number {
    return this.connection.nodeCount;
  }

  /** Routing key of this instance's reply queue (what `request()` puts in `replyTo`). */
  get replyTo(): string {
    return this.topology.responseRoutingKey(this.options.instanceId);
  }

  /**
   * Connects (retrying with backoff) and declares the topology. Idempotent. Without `timeoutMs`
   * it waits until connected; with it, it rejects with DEPENDENCY_UNAVAILABLE after that long while
   * the retries go on in the background.
   */
  async connect(timeoutMs?: number): Promise<void> {
    if (this.connection.isClosed) throw busClosedError();
    this.connection.start();
    if (this.connection.nodeCount > 1 && this.options.queueType === 'classic') {
      this.logger.warn(
        `AMQP_URLS names ${this.connection.nodeCount} nodes but AMQP_QUEUE_TYPE=classic: a classic queue lives on one node and is unavailable while that node is down (see docs/HIGH-AVAILABILITY.md)`,
      );
    }
    await this.connection.waitConnected(
      timeoutMs === undefined ? Infinity : Date.now() + timeoutMs,
    );
    // This instance's reply queue exists from the start, so `replyTo` is routable before the first
    // request and a response can never be returned for want of it.
    await this.ensureReplyConsumer();
  }

  // ---------------------------------------------------------------- publishing

  async sendTask(input: AgentMessageInput): Promise<AgentMessage> {
    const enc = encodeMessage(input, this.options.maxMessageBytes);
    const to = enc.message.toAgent;
    await this.publisher.publish(
      this.topology.tasksExchange,
      this.topology.taskRoutingKey(to),
      enc,
      true,
      to,
    );
    return enc.message;
  }

  async sendResponse(request: AgentMessage, response: ResponseInput): Promise<AgentMessage> {
    const enc = encodeResponse(request, response, this.options.maxMessageBytes);
    const key = request.replyTo ?? this.topology.responseRoutingKey(enc.message.toAgent);
    await this.publisher.publish(this.topology.responsesExchange, key, enc, true);
    return enc.message;
  }

  async broadcastEvent(input: AgentMessageInput): Promise<AgentMessage> {
    const enc = encodeMessage(input, this.options.maxMessageBytes);
    // Not mandatory: a broadcast with no subscriber has nobody to lose it for.
    await this.publisher.publish(this.topology.broadcastsExchange, '', enc, false);
    return enc.message;
  }

  async request(input: AgentMessageInput, timeoutMs?: number): Promise<AgentMessage> {
    await this.ensureReplyConsumer();
    const enc = encodeMessage({ ...input, replyTo: this.replyTo }, this.options.maxMessageBytes);
    const m = enc.message;
    // Wait first, publish second: the response may arrive before the publish confirm.
    const response = this.waiters.wait(
      m.correlationId,
      timeoutMs ?? this.options.requestTimeoutMs,
      {
        fromAgent: m.toAgent,
        attempt: m.attempt,
      },
    );
    try {
      await this.publisher.publish(
        this.topology.tasksExchange,
        this.topology.taskRoutingKey(m.toAgent),
        enc,
        true,
        m.toAgent,
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

  // ---------------------------------------------------------------- consuming

  async subscribe(
    agentId: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.consumers.add({
      kind: 'tasks',
      queue: this.topology.agentQueue(agentId),
      prefetch: options.prefetch ?? this.options.prefetch,
      handler,
      declare: (ch) => this.declarer.declareAgentQueue(ch, agentId),
    });
  }

  override async subscribeRedispatch(
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.consumers.add({
      kind: 'redispatch',
      queue: this.topology.orchestratorQueue,
      prefetch: options.prefetch ?? this.options.prefetch,
      handler,
      declare: (ch) => this.declarer.declareShared(ch),
    });
  }

  async subscribeBroadcasts(handler: MessageHandler): Promise<Subscription> {
    const queue = this.topology.broadcastQueue(this.options.instanceId, ++this.broadcastSeq);
    return this.consumers.add({
      kind: 'broadcasts',
      queue,
      prefetch: this.options.prefetch,
      handler,
      declare: (ch) => this.declarer.declareBroadcastQueue(ch, queue),
      // A broadcast queue is this subscriber's own: delete it (else x-expires removes it later).
      afterCancel: async () => {
        const topo = await this.connection.topologyChannel();
        await topo.deleteQueue(queue);
      },
    });
  }

  async subscribeResponses(name: string, handler: MessageHandler): Promise<Subscription> {
    return this.consumers.add({
      kind: 'responses',
      queue: this.topology.responseQueue(name),
      prefetch: this.options.prefetch,
      handler,
      declare: (ch) => this.declarer.declareResponseQueue(ch, name),
    });
  }

  /** This instance's reply queue, consumed once, feeding {@link ResponseWaiters}. */
  private ensureReplyConsumer(): Promise<void> {
    if (!this.replySub) {
      const name = this.options.instanceId;
      const p = this.consumers
        .add({
          kind: 'replies',
          queue: this.topology.responseQueue(name),
          prefetch: Math.max(this.options.prefetch, 200),
          handler: async (message) => {
            const outcome = this.waiters.deliver(message);
            if (outcome === 'delivered') return;
            this.options.metrics?.duplicateRepliesTotal.inc({ reason: outcome });
            if (outcome !== 'no_waiter') {
              this.logger.warn(
                `dropped a reply (${outcome}) from '${message.fromAgent}' for correlation id '${message.correlationId}'`,
              );
            }
          },
          declare: (ch) => this.declarer.declareResponseQueue(ch, name),
        })
        .then(() => undefined);
      p.catch(() => {
        if (this.replySub === p) this.replySub = undefined;
      });
      this.replySub = p;
    }
    return this.replySub;
  }

  // ---------------------------------------------------------------- shutdown

  /** Graceful: stop consuming, let in-flight handlers finish (bounded), then close. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    const finished = await this.consumers.stop(this.options.shutdownTimeoutMs);
    if (!finished) {
      this.logger.warn(
        `shutdown: handlers still running after ${this.options.shutdownTimeoutMs} ms; their messages will be redelivered`,
      );
    }
    await settleWithin([this.publisher.settled()], this.options.publishTimeoutMs);
    const closing = this.connection.close(); // refuses everything from here on
    this.waiters.rejectAll(busClosedError());
    this.consumers.clear();
    await closing;
  }

  /** Test/ops helper: messages and consumers of a queue of this bus (by full name). */
  override ping(): Promise<number> {
    return this.publisher.ping();
  }

  async inspectQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    const ch = await this.connection.topologyChannel();
    const r = await ch.checkQueue(queue);
    return { messageCount: r.messageCount, consumerCount: r.consumerCount };
  }
}
