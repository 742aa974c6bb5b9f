import type { AgentMessage, AgentMessageInput } from './agent-message.schema';

/** Facts about one delivery that a handler may need (duplicate detection, tracing). */
export interface DeliveryInfo {
  /** The broker says this message was delivered before (consumer crashed/nacked before ack). */
  redelivered: boolean;
  /** Transport headers, including W3C `traceparent`. */
  headers: Record<string, unknown>;
  /**
   * Set for messages consumed from `orchestrator.priority`: why the message was dead-lettered from
   * its agent queue (`rejected`: the handler failed; `expired`: it waited longer than BUS_TASK_TTL_MS).
   */
  deadLetterReason?: string;
}

/**
 * A message handler. Resolve → the message is acked. Throw → it is nacked and dead-lettered
 * (never silently dropped, never crash-looped).
 */
export type MessageHandler = (message: AgentMessage, info: DeliveryInfo) => Promise<void>;

export interface SubscribeOptions {
  /** Unacknowledged messages in flight for this subscription (default: BUS_PREFETCH). */
  prefetch?: number;
}

/** Stops a subscription; resolves once its in-flight handlers have finished. */
export interface Subscription {
  cancel(): Promise<void>;
}

export type BusState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/**
 * The message bus (seed 1.3), injected by this abstract class. Two transports implement it:
 * RabbitMQ (the distributed default) and in-memory (single-process mode, unit tests); one
 * contract test suite runs against both.
 */
export abstract class MessageBus {
  /** Connects (with retry) and declares the topology. Idempotent. */
  abstract connect(): Promise<void>;

  /**
   * Publishes a task to `agent.{toAgent}` (persistent, with priority). Resolves only once the
   * broker has confirmed it; rejects with a DependencyUnavailable AppException (→ 503) when the
   * broker cannot take it within BUS_PUBLISH_TIMEOUT_MS. Returns the message as sent.
   */
  abstract sendTask(message: AgentMessageInput): Promise<AgentMessage>;

  /** Publishes a response to `replyTo` (or `{toAgent}.response`), keeping the correlation id. */
  abstract sendResponse(
    request: AgentMessage,
    response: Omit<AgentMessageInput, 'correlationId' | 'toAgent'> & { toAgent?: string },
  ): Promise<AgentMessage>;

  /** Publishes to every broadcast subscriber (fanout). */
  abstract broadcastEvent(message: AgentMessageInput): Promise<AgentMessage>;

  /** Consumes `agent.{agentId}.tasks` (and direct messages for that agent). Manual ack after the handler. */
  abstract subscribe(
    agentId: string,
    handler: MessageHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription>;

  /**
   * Consumes `orchestrator.priority`: tasks dead-lettered from agent queues (a handler failed, or
   * the task waited longer than BUS_TASK_TTL_MS, e.g. because its agent went away), highest
   * priority first, for re-dispatch. Optional so that test doubles need not implement it.
   */
  subscribeRedispatch?(handler: MessageHandler, options?: SubscribeOptions): Promise<Subscription>;

  /** Receives every broadcast (each subscriber gets its own copy). */
  abstract subscribeBroadcasts(handler: MessageHandler): Promise<Subscription>;

  /** Receives responses addressed to `{name}.response` (a control-plane instance or an agent). */
  abstract subscribeResponses(name: string, handler: MessageHandler): Promise<Subscription>;

  /** `sendTask` + `waitForResponse`: rejects with a TimeoutError after `timeoutMs`. */
  abstract request(message: AgentMessageInput, timeoutMs?: number): Promise<AgentMessage>;

  /** Waits for the response with this correlation id; rejects with a TimeoutError after `timeoutMs`. */
  abstract waitForResponse(correlationId: string, timeoutMs?: number): Promise<AgentMessage>;

  /** Current connection state (reported to /health/ready). */
  abstract get state(): BusState;

  /** Graceful shutdown: stops consuming, lets in-flight handlers finish, closes channels. */
  abstract close(): Promise<void>;

  /**
   * One round trip to the broker (RabbitMQ: a publish and its confirm), in seconds; undefined for
   * a transport without a broker. Feeds `bus_rtt_seconds`.
   */
  ping(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }
}
