import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code.enum';
import { injectTraceContext, withSpan } from '../../observability/tracing';
import type { BusOptions } from '../bus-options';
import type { EncodedMessage } from '../message-codec';
import type { AmqpConnectionManager } from './amqp-connection.manager';
import { busClosedError, PublishDeadlineError, sleep, toError, UnroutableError } from './amqp.util';
import type { TopologyDeclarer } from './topology.declarer';

/** How often unconfirmed publishes are checked against their deadline. */
const DEADLINE_SWEEP_MS = 50;

/**
 * Confirm publishing: a publish waits for the connection and the broker's confirm until
 * BUS_PUBLISH_TIMEOUT_MS, then fails with DEPENDENCY_UNAVAILABLE (503). It is retried on a new
 * channel if the old one died before confirming, so a confirmed message may be delivered twice
 * (same message id) but a resolved publish is never lost. At most BUS_MAX_PENDING_PUBLISHES
 * publishes wait at once. A mandatory message the broker returns rejects with NOT_FOUND (after
 * one re-declaration of the agent queue it was meant for).
 */
export class ConfirmPublisher {
  private readonly returned = new Map<string, { returned: boolean }>();
  private readonly publishesIdle: (() => void)[] = [];
  /** Unconfirmed publishes and their deadlines, checked by one sweeper instead of a timer each. */
  private readonly confirmDeadlines = new Set<{ deadline: number; expire: () => void }>();
  private sweeper?: NodeJS.Timeout;
  private pendingPublishes = 0;

  constructor(
    private readonly options: BusOptions,
    private readonly connection: AmqpConnectionManager,
    private readonly declarer: TopologyDeclarer,
  ) {}

  /** Hooked to the publisher channel's `return` event. */
  onReturn(msg: ConsumeMessage): void {
    const id = msg.properties.messageId as string | undefined;
    const mark = id === undefined ? undefined : this.returned.get(id);
    if (mark) mark.returned = true;
  }

  /**
   * Publishes an encoded message and resolves once the broker confirmed it. With `agentQueueFor`
   * the agent's task queue is declared (or its lease renewed) first.
   */
  async publish(
    exchange: string,
    routingKey: string,
    enc: EncodedMessage,
    mandatory: boolean,
    agentQueueFor?: string,
  ): Promise<void> {
    if (this.connection.isClosed) throw busClosedError();
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
        // Few, short attributes: every sampled message pays for them in span storage and export.
        'messaging.destination.name': exchange,
        'switchyard.message_type': m.messageType,
        ...(m.taskId ? { 'task.id': m.taskId } : {}),
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

  /**
   * A publish-confirm round trip in seconds: an empty transient message to the default exchange
   * under a routing key no queue has (the broker drops it and confirms), on the channel every
   * publish uses, within BUS_PUBLISH_TIMEOUT_MS. Only when connected: a reconnect is not a ping.
   */
  async ping(): Promise<number> {
    const ch = this.connection.readyPublisher;
    if (!ch) throw new Error('bus not connected');
    const started = process.hrtime.bigint();
    const id = `ping-${started}`;
    await this.publishOnce(
      ch,
      '',
      'switchyard.rtt-ping',
      Buffer.alloc(0),
      { persistent: false, mandatory: false, messageId: id },
      Date.now() + this.options.publishTimeoutMs,
    );
    return Number(process.hrtime.bigint() - started) / 1e9;
  }

  /** Resolves when no publish is waiting for the broker (used by close()). */
  settled(): Promise<void> {
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
          this.connection.readyPublisher ?? (await this.connection.waitConnected(deadline));
        if (agentQueueFor !== undefined && !this.declarer.agentQueueFresh(agentQueueFor)) {
          await this.declarer.ensureAgentQueue(agentQueueFor, deadline);
        }
        // No wait for 'drain': what amqplib buffers is bounded by BUS_MAX_PENDING_PUBLISHES.
        try {
          await this.publishOnce(ch, exchange, routingKey, body, options, deadline);
        } catch (e) {
          // A nacked task or reply (routed to one quorum queue: no overflow policy here) is the
          // channel's stale view of a queue whose leader died with its node; the same channel
          // nacks it again until the task times out. Retry on a new channel. Not for broadcasts:
          // a fanout may also reach a dead node's queue, which no channel can fix.
          if (options.mandatory && isNack(e)) this.connection.renewPublisher(ch);
          throw e;
        }
        return;
      } catch (e) {
        lastError = e as Error;
        if (e instanceof AppException) throw e;
        if (e instanceof UnroutableError) {
          // A task queue deleted behind our back: declare it again and retry once.
          if (agentQueueFor !== undefined && !returnedOnce) {
            returnedOnce = true;
            this.declarer.forgetAgentQueue(agentQueueFor);
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

  /** One publish on `ch`, settled by its confirm, a return, or the deadline. */
  publishOnce(
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
        this.connection.corkBurst();
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
}

/** amqplib's error for a basic.nack from the broker. */
function isNack(e: unknown): boolean {
  return e instanceof Error && e.message === 'message nacked';
}
