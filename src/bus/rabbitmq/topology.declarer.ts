import type { Channel, Options } from 'amqplib';
import { AppException } from '../../common/errors/app.exception';
import type { BusOptions } from '../bus-options';
import { BusTopology } from '../bus-topology';
import {
  isPreconditionFailed,
  PublishDeadlineError,
  preconditionOr,
  QueueTypeMismatchError,
  toError,
  withDeadline,
} from './amqp.util';

/**
 * Every declaration of the RabbitMQ transport (exchanges, queues, bindings; names from
 * {@link BusTopology}), plus the lease of agent task queues: `agent.{id}.tasks` is declared before
 * a task is published to it and re-declared every `leaseRefreshMs` to renew its x-expires, so a
 * queue cannot expire (dropping its messages) while tasks are still being sent, and every task it
 * holds reaches its TTL (and is dead-lettered) before it could expire.
 *
 * AMQP_QUEUE_TYPE picks the type of the queues that must survive a node (docs/HIGH-AVAILABILITY.md
 * has the reasoning per queue): `classic` keeps the single-node layout (priority queues, 0..10);
 * `quorum` makes agent task queues, reply/response queues, `orchestrator.priority` and the parking
 * queue replicated quorum queues (FIFO: RabbitMQ 3.10 quorum queues have no x-max-priority; the
 * dispatcher's Redis queue keeps the priority order), and broadcast queues exclusive classic queues
 * on the node this process is connected to (re-created on the next node after a failover).
 */
export class TopologyDeclarer {
  private readonly declaredAgents = new Map<
    string,
    { at: number; ready: Promise<void>; done: boolean }
  >();
  readonly leaseRefreshMs: number;

  constructor(
    readonly topology: BusTopology,
    private readonly options: BusOptions,
    /** A channel for declarations (a precondition failure closes it, not the publisher's). */
    private readonly channel: () => Promise<Channel>,
  ) {
    if (options.taskTtlMs >= options.agentQueueExpiresMs) {
      throw new Error(
        `BUS_TASK_TTL_MS (${options.taskTtlMs}) must be smaller than BUS_AGENT_QUEUE_EXPIRES_MS (${options.agentQueueExpiresMs}), or tasks in an abandoned queue would be deleted with it`,
      );
    }
    this.leaseRefreshMs = Math.max(
      1000,
      Math.min(60_000, Math.floor((options.agentQueueExpiresMs - options.taskTtlMs) / 4)),
    );
  }

  private get quorum(): boolean {
    return this.options.queueType === 'quorum';
  }

  /**
   * Arguments of a queue that must survive a node: with `quorum` a quorum queue (durable by
   * definition, no priority), else a durable classic queue with priorities 0..10 when asked.
   */
  private replicated(priority: boolean, extra: Options.AssertQueue = {}): Options.AssertQueue {
    if (this.quorum) {
      return { ...extra, durable: true, arguments: { 'x-queue-type': 'quorum' } };
    }
    return { ...extra, durable: true, ...(priority ? { maxPriority: 10 } : {}) };
  }

  /**
   * The exchanges and shared queues (run on every new connection). A shared queue declared with
   * other arguments (another AMQP_QUEUE_TYPE) is a QueueTypeMismatchError: the connection loop
   * stops and boot fails with what to do, instead of retrying forever.
   */
  async declareShared(ch: Channel): Promise<void> {
    const t = this.topology;
    await ch.assertExchange(t.tasksExchange, 'topic', { durable: true });
    await ch.assertExchange(t.broadcastsExchange, 'fanout', { durable: true });
    await ch.assertExchange(t.responsesExchange, 'direct', { durable: true });
    await ch.assertExchange(t.deadLetterExchange, 'topic', { durable: true });
    await this.assertShared(
      ch,
      t.orchestratorQueue,
      this.replicated(true, {
        deadLetterExchange: t.deadLetterExchange,
        deadLetterRoutingKey: BusTopology.PARKING_KEY,
      }),
    );
    await ch.bindQueue(t.orchestratorQueue, t.deadLetterExchange, 'agent.#');
    await this.assertShared(ch, t.parkingQueue, this.replicated(false));
    await ch.bindQueue(t.parkingQueue, t.deadLetterExchange, BusTopology.PARKING_KEY);
  }

  private async assertShared(ch: Channel, queue: string, options: Options.AssertQueue) {
    try {
      await ch.assertQueue(queue, options);
    } catch (e) {
      if (isPreconditionFailed(e)) {
        throw new QueueTypeMismatchError(queue, this.options.queueType, toError(e));
      }
      throw e;
    }
  }

  async declareAgentQueue(ch: Channel, agentId: string): Promise<void> {
    const t = this.topology;
    const queue = t.agentQueue(agentId);
    await ch.assertQueue(queue, {
      ...this.replicated(true),
      expires: this.options.agentQueueExpiresMs,
      messageTtl: this.options.taskTtlMs,
      deadLetterExchange: t.deadLetterExchange,
    });
    await ch.bindQueue(queue, t.tasksExchange, t.taskRoutingKey(agentId));
  }

  async declareResponseQueue(ch: Channel, name: string): Promise<void> {
    const t = this.topology;
    const queue = t.responseQueue(name);
    await ch.assertQueue(queue, {
      ...this.replicated(false),
      expires: this.options.replyQueueExpiresMs,
      deadLetterExchange: t.deadLetterExchange,
      deadLetterRoutingKey: BusTopology.PARKING_KEY,
    });
    await ch.bindQueue(queue, t.responsesExchange, t.responseRoutingKey(name));
  }

  async declareBroadcastQueue(ch: Channel, queue: string): Promise<void> {
    const t = this.topology;
    const dead = {
      deadLetterExchange: t.deadLetterExchange,
      deadLetterRoutingKey: BusTopology.PARKING_KEY,
    };
    // In a cluster a subscriber's own queue lives on its node and goes with its connection: a
    // durable classic queue on a dead node could not be declared again anywhere until it returns.
    await ch.assertQueue(
      queue,
      this.quorum
        ? { ...dead, durable: false, exclusive: true }
        : { ...dead, durable: true, expires: this.options.replyQueueExpiresMs },
    );
    await ch.bindQueue(queue, t.broadcastsExchange, '');
  }

  /** True when the agent's queue was declared recently enough (no await on the hot path). */
  agentQueueFresh(agentId: string): boolean {
    const known = this.declaredAgents.get(agentId);
    return known !== undefined && known.done && Date.now() - known.at < this.leaseRefreshMs;
  }

  /** Declares (or renews) the agent's queue; rejects at `deadline` with PublishDeadlineError. */
  async ensureAgentQueue(agentId: string, deadline: number): Promise<void> {
    const now = Date.now();
    const known = this.declaredAgents.get(agentId);
    if (known && now - known.at < this.leaseRefreshMs) return withDeadline(known.ready, deadline);
    const ready = (async () => {
      const ch = await this.channel();
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

  /** The agent's queue may be gone (the broker returned a task): declare it again next time. */
  forgetAgentQueue(agentId: string): void {
    this.declaredAgents.delete(agentId);
  }

  /** A new or lost connection: nothing declared on the old one is known to exist. */
  reset(): void {
    this.declaredAgents.clear();
  }
}
