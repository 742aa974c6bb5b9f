import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { withExtractedContext, withSpan } from '../../observability/tracing';
import type { BusOptions } from '../bus-options';
import type { DeliveryInfo, MessageHandler, Subscription } from '../message-bus';
import { decodeMessage } from '../message-codec';
import type { AmqpConnectionManager } from './amqp-connection.manager';
import {
  backoff,
  busClosedError,
  closedHandles,
  deathReason,
  preconditionOr,
  safely,
  settleWithin,
} from './amqp.util';
import type { ConfirmPublisher } from './confirm.publisher';

export type ConsumerKind = 'tasks' | 'responses' | 'broadcasts' | 'redispatch' | 'replies';

/** What a subscription asks for; the registry keeps it alive across reconnects. */
export interface ConsumerSpec {
  kind: ConsumerKind;
  queue: string;
  prefetch: number;
  handler: MessageHandler;
  /** Declares the queue and its bindings (idempotent; run again after every reconnect). */
  declare: (ch: Channel) => Promise<void>;
  /** Runs once the subscription is cancelled (e.g. deletes a broadcast queue). */
  afterCancel?: () => Promise<void>;
}

interface Consumer extends ConsumerSpec {
  channel?: Channel;
  consumerTag?: string;
  inFlight: Set<Promise<void>>;
  cancelled: boolean;
  reattachTimer?: NodeJS.Timeout;
  reattachAttempt: number;
  attaching?: Promise<void>;
}

/**
 * The consumers of the RabbitMQ transport: one channel per subscription (its own prefetch),
 * manual ack after the handler, nack (→ dead-letter) when it throws, unprocessable messages moved
 * to the parking queue with the reason. Every live consumer is re-attached after a reconnect, and
 * after its channel dies or the broker cancels it on a live connection.
 */
export class ConsumerRegistry {
  private readonly logger = new Logger('RabbitMqConsumers');
  private readonly consumers = new Set<Consumer>();
  /** No new consumers/deliveries; in-flight handlers may still publish. */
  private stopping = false;

  constructor(
    private readonly options: BusOptions,
    private readonly connection: AmqpConnectionManager,
    private readonly publisher: ConfirmPublisher,
    private readonly parkingQueue: string,
  ) {}

  /** Adds a consumer and attaches it now when connected (else the reconnect loop will). */
  async add(spec: ConsumerSpec): Promise<Subscription> {
    if (this.stopping || this.connection.isClosed) throw busClosedError();
    const sub: Consumer = { ...spec, inFlight: new Set(), cancelled: false, reattachAttempt: 0 };
    this.consumers.add(sub);
    if (!this.connection.connection) {
      // Not connected yet: the (re)connect loop attaches it as soon as the broker answers.
      this.connection.start();
      return { cancel: () => this.cancel(sub) };
    }
    try {
      await this.attach(sub);
    } catch (e) {
      this.consumers.delete(sub);
      throw preconditionOr(e, `queue ${sub.queue}`);
    }
    return { cancel: () => this.cancel(sub) };
  }

  /** A new connection: attach every live consumer (failures retry on their own timer). */
  async reattachAll(): Promise<void> {
    await Promise.all(
      [...this.consumers].map((sub) =>
        this.attach(sub).catch((e: Error) => {
          this.logger.error(`re-attaching consumer of ${sub.queue} failed: ${e.message}`);
          this.scheduleReattach(sub);
        }),
      ),
    );
  }

  /** The connection is gone: its channels with it. */
  detachAll(): void {
    for (const sub of this.consumers) {
      sub.channel = undefined;
      sub.consumerTag = undefined;
    }
  }

  /**
   * Shutdown, first half: stop consuming and wait (at most `timeoutMs`) for in-flight handlers.
   * Returns false when some were still running.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    this.stopping = true;
    const subs = [...this.consumers];
    await Promise.all(
      subs.map(async (sub) => {
        clearTimeout(sub.reattachTimer);
        if (sub.channel && sub.consumerTag) {
          await sub.channel.cancel(sub.consumerTag).catch(() => undefined);
        }
      }),
    );
    return settleWithin(
      subs.flatMap((s) => [...s.inFlight]),
      timeoutMs,
    );
  }

  /** Shutdown, second half: forget every consumer (the connection closes their channels). */
  clear(): void {
    for (const sub of this.consumers) sub.cancelled = true;
    this.consumers.clear();
  }

  private attach(sub: Consumer): Promise<void> {
    sub.attaching ??= this.attachOnce(sub).finally(() => {
      sub.attaching = undefined;
    });
    return sub.attaching;
  }

  private async attachOnce(sub: Consumer): Promise<void> {
    const conn = this.connection.connection;
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
      if (this.connection.connection === conn && !sub.cancelled && !this.stopping) {
        this.scheduleReattach(sub);
      }
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

  private scheduleReattach(sub: Consumer): void {
    if (sub.reattachTimer || sub.cancelled || this.stopping) return;
    sub.reattachTimer = setTimeout(() => {
      sub.reattachTimer = undefined;
      if (!this.connection.connection) return; // the reconnect loop re-attaches it
      this.attach(sub).catch((e: Error) => {
        this.logger.warn(`re-attaching consumer of ${sub.queue} failed: ${e.message}`);
        this.scheduleReattach(sub);
      });
    }, backoff(sub.reattachAttempt++));
  }

  private onDelivery(sub: Consumer, ch: Channel, msg: ConsumeMessage | null): void {
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

  private async handleDelivery(sub: Consumer, ch: Channel, msg: ConsumeMessage): Promise<void> {
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
            ...(msg.fields.redelivered ? { 'messaging.rabbitmq.redelivered': true } : {}),
            'switchyard.message_type': message.messageType,
            ...(message.taskId ? { 'task.id': message.taskId } : {}),
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
    this.connection.corkBurst(); // acks finishing in the same turn go out in one write
    safely(() => ch.ack(msg));
  }

  /** Moves an unprocessable message to the parking queue with the reason, then acks it. */
  private async park(
    sub: Consumer,
    ch: Channel,
    msg: ConsumeMessage,
    reason: string,
  ): Promise<void> {
    this.logger.warn(`unprocessable message on ${sub.queue} dead-lettered: ${reason}`);
    try {
      const deadline = Date.now() + this.options.publishTimeoutMs;
      const pub = await this.connection.waitConnected(deadline);
      const p = msg.properties;
      await this.publisher.publishOnce(
        pub,
        '',
        this.parkingQueue,
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

  private async cancel(sub: Consumer): Promise<void> {
    if (sub.cancelled) return;
    sub.cancelled = true;
    clearTimeout(sub.reattachTimer);
    await sub.attaching?.catch(() => undefined); // so a consumer being created is cancelled too
    const ch = sub.channel;
    if (ch && sub.consumerTag) await ch.cancel(sub.consumerTag).catch(() => undefined);
    await Promise.allSettled([...sub.inFlight]);
    this.consumers.delete(sub);
    sub.channel = undefined;
    if (ch) await ch.close().catch(() => undefined);
    if (sub.afterCancel && this.connection.connection) {
      await sub.afterCancel().catch(() => undefined);
    }
  }
}
