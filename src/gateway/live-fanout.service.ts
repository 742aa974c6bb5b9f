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
import { LiveListenersRepository } from './live-listeners.repository';
import { liveEventSchema } from './live-message.schema';

/** Prefix of `fromAgent` on the event broadcasts this service sends. */
const SENDER_PREFIX = 'control-plane:';
/** Events are broadcast in batches: at most this many per message... */
const MAX_BATCH = 256;
/** ...and at most this long after the first one waited. */
const BATCH_WINDOW_MS = 5;
/** An instance with clients renews its entry in the listener set this often... */
const PRESENCE_RENEW_MS = 10_000;
/** ...checking this often whether it is due (or a failed write needs retrying). */
const PRESENCE_CHECK_MS = 1_000;
/** ...and the entry lapses this long after the last renewal (a crashed instance drops out). */
const PRESENCE_TTL_MS = 30_000;
/** Once another instance was seen listening, batches are published without asking for this long. */
const PEERS_SEEN_MS = 1_000;

/**
 * Makes the live feed work across control-plane instances: every event emitted on this
 * instance is broadcast on the bus (`messageType: 'event'`, payload `{events: [...]}`, batched
 * for up to 5 ms or 256 events; each event carries `source`),
 * and event broadcasts from other instances are re-published on the local {@link EventsService},
 * so this instance's WebSocket clients see them. Events received from the bus are never sent
 * back out, and an instance ignores its own broadcasts.
 *
 * Only while another instance has live clients: an instance announces itself in the listener set
 * ({@link LiveListenersRepository}) before it confirms its first subscription, and a batch is
 * published when, at flush time (after its events happened), the set holds another instance.
 * So an event that happens after a client's `subscribed` on any instance reaches it, and with no
 * client anywhere the hot path publishes nothing (one Redis read per batch window instead).
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
  /** sent: broadcast; skipped: not broadcast because no other instance had clients. */
  counters = { sent: 0, skipped: 0, received: 0, rejected: 0 };
  private readonly outbox: SwitchyardEvent[] = [];
  private flushTimer?: NodeJS.Timeout;
  /** Flushed batches waiting for the answer to "does another instance listen?", in order. */
  private readonly held: SwitchyardEvent[][] = [];
  private asking = false;
  /** Until then (ms) another instance is known to listen. */
  private peersSeenUntil = 0;
  /** This instance's entry in the listener set: absent, being written, or written. */
  private presence: 'absent' | Promise<void> | 'present' = 'absent';
  private renewTimer?: NodeJS.Timeout;
  private presenceWrittenAt = 0;
  private renewing = false;

  constructor(
    private readonly config: ConfigService,
    private readonly events: EventsService,
    private readonly moduleRef: ModuleRef,
    private readonly listeners: LiveListenersRepository,
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
    clearInterval(this.renewTimer);
    if (this.presence !== 'absent') this.withdraw();
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

  /**
   * Called before this instance confirms a subscription: makes sure the listener set holds it, so
   * other instances publish their events from then on. Undefined when nothing needs waiting for
   * (already announced, or no fan-out); else a promise that resolves once written, or once the
   * write failed (the feed still works locally, and the write is retried every second).
   */
  announceListener(): Promise<void> | undefined {
    if (!this.bus || this.presence === 'present') return undefined;
    if (this.presence !== 'absent') return this.presence;
    const written: Promise<void> = this.writePresence().then(() => {
      if (this.presence === written) this.presence = 'present';
    });
    this.presence = written;
    this.renewTimer ??= setInterval(() => this.renew(), PRESENCE_CHECK_MS);
    this.renewTimer.unref();
    return written;
  }

  /** The last client of this instance left: other instances may stop publishing for it. */
  withdrawListener(): void {
    if (!this.bus || this.presence === 'absent') return;
    this.withdraw();
  }

  private withdraw(): void {
    this.presence = 'absent';
    this.presenceWrittenAt = 0;
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.listeners.withdraw(this.instanceId).catch(() => undefined);
  }

  /** Writes this instance's entry; remembers when it last succeeded (0 after a failure). */
  private async writePresence(): Promise<void> {
    const at = Date.now();
    try {
      await this.listeners.announce(this.instanceId, at + PRESENCE_TTL_MS);
      this.presenceWrittenAt = at;
    } catch (e) {
      this.presenceWrittenAt = 0;
      this.logger.warn(
        `cannot announce this instance's live clients (retrying every ${PRESENCE_CHECK_MS} ms): other instances do not send their events meanwhile: ${(e as Error).message}`,
      );
    }
  }

  /** Renews the entry every {@link PRESENCE_RENEW_MS}, or retries a failed write sooner. */
  private renew(): void {
    if (this.presence !== 'present' || this.renewing) return;
    if (Date.now() - this.presenceWrittenAt < PRESENCE_RENEW_MS) return;
    this.renewing = true;
    void this.writePresence().finally(() => (this.renewing = false));
  }

  private onLocalEvent(event: SwitchyardEvent): void {
    if (!this.bus || this.fromBus.has(event)) return;
    this.outbox.push(event);
    // One broadcast per batch, not per event: a task makes ~5 events, and a persistent,
    // confirmed publish each would cost more than the task itself. Batches keep event order.
    if (this.outbox.length >= MAX_BATCH) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), BATCH_WINDOW_MS);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.bus || this.outbox.length === 0) return;
    this.held.push(this.outbox.splice(0));
    this.drain();
  }

  /**
   * Publishes or skips the held batches, oldest first. A batch is skipped only when the listener
   * set, read after its events happened, held no other instance; while another instance is known
   * to listen (read less than {@link PEERS_SEEN_MS} ago) batches go out without a read. A failed
   * read publishes (the feed must not go quiet because Redis hiccupped).
   */
  private drain(): void {
    while (!this.asking && this.held.length > 0) {
      if (Date.now() < this.peersSeenUntil) {
        this.publish(this.held.shift()!);
        continue;
      }
      // Batches flushed while the read is out wait behind it (their events may be newer than it).
      const asked = this.held.length;
      this.asking = true;
      this.listeners
        .othersListening(this.instanceId)
        .catch(() => true)
        .then((yes) => {
          this.asking = false;
          if (yes) this.peersSeenUntil = Date.now() + PEERS_SEEN_MS;
          for (const batch of this.held.splice(0, asked)) {
            if (yes) this.publish(batch);
            else this.counters.skipped += batch.length;
          }
          this.drain();
        })
        .catch(() => undefined);
    }
  }

  private publish(batch: SwitchyardEvent[]): void {
    if (!this.bus) return;
    this.counters.sent += batch.length;
    const events = batch.map((e) => (e.source ? e : { ...e, source: this.instanceId }));
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
