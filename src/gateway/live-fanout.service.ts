import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { AgentMessage } from '../bus/agent-message.schema';
import { MessageBus, type Subscription } from '../bus/message-bus';
import { ConfigService } from '../config/config.service';
import { EventsService } from '../events/events.service';
import type { SwitchyardEvent } from '../events/switchyard-event.type';
import { liveEventSchema } from './live-message.schema';

/** Prefix of `fromAgent` on the event broadcasts this service sends. */
const SENDER_PREFIX = 'control-plane:';
/** Events are broadcast in batches: at most this many per message... */
const MAX_BATCH = 256;
/** ...and at most this long after the first one waited. */
const BATCH_WINDOW_MS = 5;

/**
 * Makes the live feed work across control-plane instances: every event emitted on this
 * instance is broadcast on the bus (`messageType: 'event'`, payload `{events: [...]}`, batched
 * for up to 5 ms or 256 events; each event carries `source`),
 * and event broadcasts from other instances are re-published on the local {@link EventsService},
 * so this instance's WebSocket clients see them. Events received from the bus are never sent
 * back out, and an instance ignores its own broadcasts.
 *
 * Order: broadcasts are published in the order events happen, on the bus's one channel, so a
 * client on another instance sees one instance's events in order (events of two instances may
 * interleave).
 *
 * The MessageBus is looked up at bootstrap, not injected: without a bus provider, with the
 * in-memory transport (one process, no peers) or with LIVE_FANOUT=false the feed is local-only.
 */
@Injectable()
export class LiveFanoutService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LiveFanoutService.name);
  readonly instanceId: string;
  private readonly sender: string;
  private bus?: MessageBus;
  private subscription?: Subscription;
  private unsubscribeLocal?: () => void;
  private readonly fromBus = new WeakSet<SwitchyardEvent>();
  private publishFailures = 0;
  private lastFailureLog = 0;
  /** Resolves once broadcasts from other instances are being received (or fanout is off). */
  ready: Promise<void> = Promise.resolve();
  counters = { sent: 0, received: 0, rejected: 0 };
  private readonly outbox: SwitchyardEvent[] = [];
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly config: ConfigService,
    private readonly events: EventsService,
    private readonly moduleRef: ModuleRef,
  ) {
    this.instanceId =
      config.gateway.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.sender = `${SENDER_PREFIX}${this.instanceId}`.slice(0, 200);
  }

  get enabled(): boolean {
    return this.bus !== undefined;
  }

  onApplicationBootstrap(): void {
    if (!this.config.gateway.fanout) {
      this.logger.log('LIVE_FANOUT=false: the live feed shows only this instance’s events');
      return;
    }
    if (this.config.bus.transport === 'memory') {
      // The in-memory transport lives inside one process: there is no other instance to reach.
      this.logger.log('BUS_TRANSPORT=memory: the live feed shows only this instance’s events');
      return;
    }
    const bus = this.findBus();
    if (!bus) {
      this.logger.warn('no MessageBus provider: the live feed shows only this instance’s events');
      return;
    }
    this.bus = bus;
    this.unsubscribeLocal = this.events.subscribe((event) => this.onLocalEvent(event));
    this.ready = bus
      .subscribeBroadcasts(async (message) => this.onBroadcast(message))
      .then((subscription) => {
        this.subscription = subscription;
      })
      .catch((e: unknown) => {
        this.logger.error(
          `cannot receive event broadcasts: other instances' events will be missing: ${(e as Error).message}`,
        );
      });
  }

  async onApplicationShutdown(): Promise<void> {
    this.flush();
    this.unsubscribeLocal?.();
    this.unsubscribeLocal = undefined;
    await this.ready;
    await this.subscription?.cancel().catch(() => undefined);
    this.subscription = undefined;
  }

  private findBus(): MessageBus | undefined {
    try {
      return this.moduleRef.get(MessageBus, { strict: false });
    } catch {
      return undefined;
    }
  }

  private onLocalEvent(event: SwitchyardEvent): void {
    if (!this.bus || this.fromBus.has(event)) return;
    this.outbox.push({ ...event, source: event.source ?? this.instanceId });
    this.counters.sent++;
    // One broadcast per batch, not per event: a task makes ~5 events, and a persistent,
    // confirmed publish each would cost more than the task itself. Batches keep event order.
    if (this.outbox.length >= MAX_BATCH) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), BATCH_WINDOW_MS);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.bus || this.outbox.length === 0) return;
    const events = this.outbox.splice(0);
    this.bus
      .broadcastEvent({
        fromAgent: this.sender,
        toAgent: '*',
        messageType: 'event',
        payload: { events },
      })
      .catch((e: unknown) => this.notePublishFailure(e));
  }

  private onBroadcast(message: AgentMessage): Promise<void> {
    if (message.messageType !== 'event' || message.fromAgent === this.sender) {
      return Promise.resolve();
    }
    const batch = (message.payload as { events?: unknown } | null)?.events;
    for (const raw of Array.isArray(batch) ? batch : [message.payload]) {
      const parsed = liveEventSchema.safeParse(raw);
      if (!parsed.success) {
        this.counters.rejected++;
        this.logger.warn(`ignored an event broadcast with a bad payload from ${message.fromAgent}`);
        continue;
      }
      const event = parsed.data;
      this.counters.received++;
      this.fromBus.add(event);
      this.events.publish(event);
    }
    return Promise.resolve();
  }

  private notePublishFailure(e: unknown): void {
    this.publishFailures++;
    const now = Date.now();
    if (now - this.lastFailureLog < 10_000) return;
    this.lastFailureLog = now;
    this.logger.warn(
      `event broadcast failed (${this.publishFailures} so far): other instances miss events: ${(e as Error).message}`,
    );
  }
}
