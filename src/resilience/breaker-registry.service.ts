import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import CircuitBreaker from 'opossum';
import type { AgentMessage } from '../bus/agent-message.schema';
import { MessageBus, type Subscription } from '../bus/message-bus';
import { ConfigService } from '../config/config.service';
import type { ResilienceConfig } from '../config/sections/resilience.config';
import { EventsService } from '../events/events.service';
import type { SwitchyardEventType } from '../events/switchyard-event.type';
import { MetricsService } from '../observability/metrics.service';
import { withSpan } from '../observability/tracing';
import { defineLuaCommands, RedisService } from '../redis/redis.service';
import { BreakerOpenError } from './breaker-open.error';
import {
  BREAKER_STATE_GAUGE,
  type BreakerSnapshot,
  type BreakerState,
  type BreakerTransition,
  type BreakerTransitionReason,
  breakerTransitionSchema,
} from './breaker-state.type';
import {
  BREAKER_ERROR_CLASSIFIER,
  type BreakerErrorClassifier,
  defaultErrorClassifier,
} from './error-classifier';

type AgentCall = () => Promise<unknown>;
export type AgentBreaker = CircuitBreaker<[AgentCall], unknown>;

/** A transition that came from another instance (bus or Redis), being applied locally. */
interface RemoteOrigin {
  source: string;
  at: number;
  openUntil?: number;
  reason?: BreakerTransitionReason;
  failures: number;
}

interface Entry {
  readonly agentId: string;
  readonly breaker: AgentBreaker;
  state: BreakerState;
  /** Times of the failures counted since the last success / transition (oldest first). */
  failures: number[];
  /** Failures that opened it (ours or the remote instance's), reported while not closed. */
  failuresAtOpen: number;
  successes: number;
  totalFailures: number;
  rejections: number;
  openedAt?: number;
  openUntil?: number;
  lastChangeAt?: number;
  lastChangeSource?: string;
  /**
   * Time of the last open/closed transition, to recognise stale remote ones. Half-open is left
   * out: every instance reaches it on its own clock, and a trial's outcome must still apply.
   */
  orderAt?: number;
  /** Set while a remote transition is applied, so it is not broadcast back. */
  remote?: RemoteOrigin;
  /** Why the next local transition happens, when the caller knows better than the state pair. */
  pendingReason?: BreakerTransitionReason;
  /** Set by the error filter when it lets an error pass as no failure: opossum then emits `success`. */
  filtered: boolean;
}

/** The Lua commands of `commands/` (see the header of each script). */
interface ResilienceCommands {
  saveBreaker(...args: string[]): Promise<number>;
}

/** Where the scripts are: beside this file, or in src/ when running the compiled dist/ build. */
export function resilienceCommandsDir(): string {
  const beside = join(__dirname, 'commands');
  if (existsSync(beside)) return beside;
  return join(__dirname, '..', '..', '..', 'src', 'resilience', 'commands');
}

const EVENT_FOR_STATE: Record<BreakerState, SwitchyardEventType> = {
  open: 'breaker.opened',
  half_open: 'breaker.half_open',
  closed: 'breaker.closed',
};

const ROLLING_BUCKETS = 10;

/**
 * One opossum circuit breaker per agent (seed 2.1), shared by every control-plane instance.
 *
 * opossum provides the state machine: open → (reset timeout) → half-open with exactly one trial
 * call → closed on success / open again on failure. It is configured never to open on its own
 * error *percentage*; this registry counts failures itself and opens the breaker after
 * `BREAKER_FAILURE_THRESHOLD` failures with no success in between (within the rolling window),
 * as the seed's "open after 5 failures" says. Errors the classifier excludes (timeouts by
 * default) are not counted — but a half-open trial must succeed to close the breaker.
 *
 * Every local transition is logged, counted in `circuit_breaker_state{agent}`, emitted as a
 * `breaker.*` event, broadcast on the bus and stored in Redis; transitions from other instances
 * are applied locally (an open one with the remaining open time), so an agent that failed for
 * one instance is avoided by all.
 */
@Injectable()
export class BreakerRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BreakerRegistry.name);
  private readonly entries = new Map<string, Entry>();
  private readonly settings: ResilienceConfig;
  private readonly counts: BreakerErrorClassifier;
  /** One timer rotates the rolling-window buckets of every breaker, instead of one per breaker. */
  private readonly rotator = new EventEmitter();
  private rotateTimer?: NodeJS.Timeout;
  private syncTimer?: NodeJS.Timeout;
  private subscription?: Subscription;
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;
  private luaDefined = false;
  /** This control-plane instance, as named in shared transitions (`source`). */
  readonly instanceId: string;

  constructor(
    config: ConfigService,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
    @Optional() private readonly redis?: RedisService,
    @Optional() private readonly bus?: MessageBus,
    @Optional() @Inject(BREAKER_ERROR_CLASSIFIER) classifier?: BreakerErrorClassifier,
  ) {
    this.settings = config.resilience;
    // The bus names this instance when BUS_INSTANCE_ID is set; otherwise one id per registry.
    const busInstance = (config.bus as { instanceId?: string }).instanceId;
    this.instanceId = busInstance ?? `cp-${randomUUID()}`;
    this.counts =
      classifier ??
      defaultErrorClassifier({
        countTimeouts: this.settings.breakerCountTimeouts,
        excluded: this.settings.breakerExcludedErrors,
      });
    this.rotator.setMaxListeners(0);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  async onApplicationBootstrap(): Promise<void> {
    if (this.bus) {
      try {
        this.subscription = await this.bus.subscribeBroadcasts((m) => this.onBroadcast(m));
      } catch (e) {
        this.logger.warn(
          `breaker transitions will be shared through Redis only: cannot subscribe to broadcasts (${(e as Error).message})`,
        );
      }
    }
    await this.syncFromRedis();
    const every = this.settings.breakerSyncIntervalMs;
    if (this.redis && every > 0) {
      this.syncTimer = setInterval(() => void this.syncFromRedis(), every);
      this.syncTimer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.rotateTimer) clearInterval(this.rotateTimer);
    await this.subscription?.cancel().catch(() => undefined);
    await this.whenIdle();
    for (const entry of this.entries.values()) entry.breaker.shutdown();
    this.entries.clear();
  }

  /** Resolves once every pending broadcast / Redis write has settled (tests, shutdown). */
  async whenIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  // ---------------------------------------------------------------------------------------------
  // Calls

  /** The agent's opossum breaker, created on first use. */
  breakerFor(agentId: string): AgentBreaker {
    return this.entry(agentId).breaker;
  }

  /**
   * Runs `fn` (a call to the agent) through its breaker. Rejects with {@link BreakerOpenError}
   * without calling `fn` when the breaker is open or its half-open trial is already running;
   * otherwise settles as `fn` does, counting the outcome.
   */
  fire<T>(agentId: string, fn: () => Promise<T>): Promise<T> {
    const entry = this.entry(agentId);
    // Inside a traced task the call gets its own span; outside a trace a span would be orphaned.
    if (trace.getActiveSpan()) {
      return withSpan(
        'circuit_breaker_call',
        { 'agent.id': agentId, 'breaker.state': entry.state },
        () => this.fireThrough(entry, fn),
      );
    }
    return this.fireThrough(entry, fn);
  }

  private fireThrough<T>(entry: Entry, fn: () => Promise<T>): Promise<T> {
    const breaker = entry.breaker;
    if (!breaker.closed && !breaker.pendingClose) return Promise.reject(this.refuse(entry));
    // Outcomes are counted from opossum's own (synchronous) success/failure events, so the hot path
    // adds no promise of its own (see bench/scenarios/breaker.ts). opossum cannot refuse here: it
    // checks the same state we just did, synchronously.
    return breaker.fire(fn) as Promise<T>;
  }

  /** True while the agent's breaker is open (not half-open). */
  isOpen(agentId: string): boolean {
    return this.entries.get(agentId)?.breaker.opened ?? false;
  }

  /** May a task be sent to this agent now: closed, or half-open with its one trial slot free. */
  canDispatch(agentId: string): boolean {
    const breaker = this.entries.get(agentId)?.breaker;
    if (!breaker) return true;
    return breaker.closed || (breaker.halfOpen && breaker.pendingClose);
  }

  state(agentId: string): BreakerState {
    return this.entries.get(agentId)?.state ?? 'closed';
  }

  /** The agent's breaker; an agent this instance never called reports a fresh closed breaker. */
  snapshot(agentId: string): BreakerSnapshot & { tracked: boolean } {
    const entry = this.entries.get(agentId);
    if (!entry) {
      return {
        agentId,
        tracked: false,
        state: 'closed',
        failures: 0,
        threshold: this.settings.breakerFailureThreshold,
        successes: 0,
        totalFailures: 0,
        rejections: 0,
        openedAt: null,
        nextAttemptAt: null,
        lastChangeAt: null,
        lastChangeSource: null,
      };
    }
    return { ...this.describe(entry), tracked: true };
  }

  /** Every breaker this instance knows, by agent id. */
  list(): BreakerSnapshot[] {
    return [...this.entries.values()]
      .sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0))
      .map((e) => this.describe(e));
  }

  /** Closes the agent's breaker and forgets its failures, here and on every other instance. */
  reset(agentId: string): BreakerSnapshot {
    const entry = this.entry(agentId);
    entry.failures.length = 0;
    if (entry.state !== 'closed') {
      entry.pendingReason = 'reset';
      entry.breaker.close();
    } else {
      // Already closed here; others may still have it open (e.g. a missed message): tell them.
      const at = Date.now();
      entry.lastChangeAt = at;
      entry.orderAt = at;
      entry.lastChangeSource = this.instanceId;
      this.share({
        kind: 'breaker',
        agentId,
        state: 'closed',
        at,
        source: this.instanceId,
        failures: 0,
        reason: 'reset',
      });
    }
    return this.describe(entry);
  }

  // ---------------------------------------------------------------------------------------------
  // Sharing between instances

  /**
   * Applies a transition made by another instance. Returns whether it changed anything here.
   * Stale transitions (older than this breaker's last change) and our own are ignored.
   */
  applyRemote(transition: BreakerTransition): boolean {
    if (this.closed || transition.source === this.instanceId) return false;
    const existing = this.entries.get(transition.agentId);
    if (!existing && transition.state !== 'open') return false;
    if (existing?.orderAt !== undefined && transition.at < existing.orderAt) return false;
    const origin: RemoteOrigin = {
      source: transition.source,
      at: transition.at,
      openUntil: transition.openUntil,
      reason: transition.reason,
      failures: transition.failures,
    };
    switch (transition.state) {
      case 'open': {
        const reset = this.settings.breakerResetTimeoutMs;
        const remaining = (transition.openUntil ?? transition.at + reset) - Date.now();
        if (remaining <= 0) return false;
        const entry = existing ?? this.entry(transition.agentId);
        if (entry.state === 'open') return false;
        this.asRemote(entry, origin, () =>
          withResetTimeout(entry.breaker, Math.min(remaining, reset), () => entry.breaker.open()),
        );
        return true;
      }
      case 'closed': {
        const entry = existing!;
        entry.failures.length = 0;
        if (entry.state === 'closed') return false;
        this.asRemote(entry, origin, () => entry.breaker.close());
        return true;
      }
      case 'half_open':
        // Each instance goes half-open on its own timer; the trial's outcome is what we share.
        return false;
    }
  }

  /** Reads the last transition of every agent from Redis and applies it (boot, then periodically). */
  async syncFromRedis(): Promise<number> {
    const redis = this.redis;
    if (!redis || this.closed) return 0;
    try {
      const index = redis.key('breakers');
      const now = Date.now();
      await redis.client.zremrangebyscore(index, '-inf', String(now));
      const agentIds = await redis.client.zrange(index, '0', '-1');
      if (agentIds.length === 0) return 0;
      const values = await redis.client.mget(...agentIds.map((id) => redis.key('breaker', id)));
      let applied = 0;
      for (const value of values) {
        if (value === null) continue;
        const parsed = parseTransition(value);
        if (parsed && this.applyRemote(parsed)) applied++;
      }
      return applied;
    } catch (e) {
      this.logger.warn(`cannot read breaker state from Redis: ${(e as Error).message}`);
      return 0;
    }
  }

  private async onBroadcast(message: AgentMessage): Promise<void> {
    const payload = message.payload as { kind?: unknown } | null | undefined;
    if (message.messageType !== 'control' || payload?.kind !== 'breaker') return;
    const parsed = breakerTransitionSchema.safeParse(payload);
    if (!parsed.success) {
      this.logger.warn(`ignoring a malformed breaker broadcast from ${message.fromAgent}`);
      return;
    }
    this.applyRemote(parsed.data);
  }

  private share(transition: BreakerTransition): void {
    if (this.closed) return;
    if (this.bus) {
      this.track(
        this.bus.broadcastEvent({
          fromAgent: this.instanceId,
          toAgent: 'control-planes',
          messageType: 'control',
          payload: transition,
        }),
        'broadcast',
      );
    }
    const redis = this.redis;
    if (redis) {
      if (transition.state === 'half_open') return; // the open record expires when it goes half-open
      const expiresAt =
        transition.state === 'open'
          ? (transition.openUntil ?? transition.at + this.settings.breakerResetTimeoutMs)
          : transition.at + this.settings.breakerResetTimeoutMs;
      const ttl = Math.max(1, expiresAt - Date.now());
      this.track(
        this.commands(redis).saveBreaker(
          redis.key('breaker', transition.agentId),
          redis.key('breakers'),
          JSON.stringify(transition),
          String(transition.at),
          String(ttl),
          String(expiresAt),
          transition.agentId,
        ),
        'store in Redis',
      );
    }
  }

  private commands(redis: RedisService): ResilienceCommands {
    if (!this.luaDefined) {
      defineLuaCommands(redis.client, resilienceCommandsDir());
      this.luaDefined = true;
    }
    return redis.client as unknown as ResilienceCommands;
  }

  private track(promise: Promise<unknown>, what: string): void {
    const p = promise.then(
      () => undefined,
      (e: unknown) =>
        this.logger.warn(`cannot ${what} a breaker transition: ${(e as Error).message}`),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private entry(agentId: string): Entry {
    let entry = this.entries.get(agentId);
    if (entry) return entry;
    const window = this.settings.breakerRollingWindowMs;
    const breaker: AgentBreaker = new CircuitBreaker<[AgentCall], unknown>((fn) => fn(), {
      name: agentId,
      timeout: this.settings.breakerCallTimeoutMs > 0 ? this.settings.breakerCallTimeoutMs : false,
      resetTimeout: this.settings.breakerResetTimeoutMs,
      // Never open on the error percentage: this registry opens on the failure count.
      errorThresholdPercentage: 100,
      rollingCountTimeout: window > 0 ? window : 60_000,
      rollingCountBuckets: ROLLING_BUCKETS,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: this.rotator,
      // A filtered error is no failure for opossum. During the half-open trial nothing is
      // filtered: only a success closes the breaker, anything else opens it again.
      errorFilter: (err: unknown) => {
        if (breaker.halfOpen || this.counts(err)) return false;
        e.filtered = true;
        return true;
      },
    });
    const e: Entry = {
      agentId,
      breaker,
      state: 'closed',
      failures: [],
      failuresAtOpen: 0,
      successes: 0,
      totalFailures: 0,
      rejections: 0,
      filtered: false,
    };
    entry = e;
    breaker.on('success', () => {
      if (e.filtered) {
        e.filtered = false; // an excluded error, not a success
        return;
      }
      e.successes++;
      if (e.failures.length > 0) e.failures.length = 0;
    });
    breaker.on('failure', (error: unknown) => this.recordFailure(e, error));
    breaker.on('open', () => this.onTransition(e, 'open'));
    breaker.on('halfOpen', () => this.onTransition(e, 'half_open'));
    breaker.on('close', () => this.onTransition(e, 'closed'));
    this.entries.set(agentId, entry);
    this.metrics.circuitBreakerState.set({ agent: agentId }, BREAKER_STATE_GAUGE.closed);
    this.startRotating();
    return entry;
  }

  private startRotating(): void {
    if (this.rotateTimer) return;
    const window =
      this.settings.breakerRollingWindowMs > 0 ? this.settings.breakerRollingWindowMs : 60_000;
    this.rotateTimer = setInterval(() => this.rotator.emit('rotate'), window / ROLLING_BUCKETS);
    this.rotateTimer.unref();
  }

  private recordFailure(entry: Entry, error: unknown): void {
    if (!this.counts(error)) return;
    entry.totalFailures++;
    // Half-open trial failures are opossum's business (it re-opens); count only while closed.
    if (entry.state !== 'closed') return;
    const now = Date.now();
    entry.failures.push(now);
    const window = this.settings.breakerRollingWindowMs;
    if (window > 0) {
      while (entry.failures.length > 0 && entry.failures[0] <= now - window) entry.failures.shift();
    }
    if (entry.failures.length >= this.settings.breakerFailureThreshold) {
      entry.pendingReason = 'failures';
      entry.breaker.open();
    }
  }

  private refuse(entry: Entry): BreakerOpenError {
    entry.rejections++;
    const state = entry.state === 'closed' ? 'open' : entry.state;
    const next =
      state === 'open' && entry.openUntil ? new Date(entry.openUntil).toISOString() : undefined;
    return new BreakerOpenError(entry.agentId, state, next);
  }

  private asRemote(entry: Entry, origin: RemoteOrigin, change: () => void): void {
    entry.remote = origin;
    try {
      change();
    } finally {
      entry.remote = undefined;
    }
  }

  private onTransition(entry: Entry, state: BreakerState): void {
    const previous = entry.state;
    if (previous === state) return;
    const remote = entry.remote;
    const now = Date.now();
    const at = remote?.at ?? now;
    const source = remote?.source ?? this.instanceId;
    const reason = remote?.reason ?? entry.pendingReason ?? defaultReason(previous, state);
    entry.pendingReason = undefined;
    const failures = remote?.failures ?? entry.failures.length;

    entry.state = state;
    entry.lastChangeAt = at;
    entry.lastChangeSource = source;
    if (state !== 'half_open') entry.orderAt = at;
    entry.failures.length = 0;
    if (state === 'open') {
      entry.failuresAtOpen = failures;
      entry.openedAt = at;
      entry.openUntil = remote?.openUntil ?? now + this.settings.breakerResetTimeoutMs;
    } else {
      entry.openUntil = undefined;
      if (state === 'closed') entry.openedAt = undefined;
    }

    this.metrics.circuitBreakerState.set({ agent: entry.agentId }, BREAKER_STATE_GAUGE[state]);
    const fields = {
      msg: `circuit breaker ${previous} -> ${state}`,
      agent_id: entry.agentId,
      state,
      previous,
      reason,
      failures,
      source,
    };
    if (state === 'open') this.logger.warn(fields);
    else this.logger.log(fields);

    // Remote transitions were announced by the instance that made them.
    if (remote) return;
    this.events.emit(EVENT_FOR_STATE[state], {
      agentId: entry.agentId,
      source,
      data: {
        failures,
        source,
        reason,
        previous,
        ...(entry.openUntil ? { nextAttemptAt: new Date(entry.openUntil).toISOString() } : {}),
      },
    });
    this.share({
      kind: 'breaker',
      agentId: entry.agentId,
      state,
      at,
      source,
      failures,
      reason,
      ...(state === 'open' ? { openUntil: entry.openUntil } : {}),
    });
  }

  private describe(entry: Entry): BreakerSnapshot {
    const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
    return {
      agentId: entry.agentId,
      state: entry.state,
      failures: entry.state === 'closed' ? entry.failures.length : entry.failuresAtOpen,
      threshold: this.settings.breakerFailureThreshold,
      successes: entry.successes,
      totalFailures: entry.totalFailures,
      rejections: entry.rejections,
      openedAt: iso(entry.openedAt),
      nextAttemptAt: entry.state === 'open' ? iso(entry.openUntil) : null,
      lastChangeAt: iso(entry.lastChangeAt),
      lastChangeSource: entry.lastChangeSource ?? null,
    };
  }
}

function defaultReason(previous: BreakerState, next: BreakerState): BreakerTransitionReason {
  if (next === 'half_open') return 'timer';
  if (next === 'open') return previous === 'half_open' ? 'trial_failed' : 'failures';
  return previous === 'half_open' ? 'trial_succeeded' : 'reset';
}

/**
 * Opens `breaker` so that it goes half-open after `ms` instead of its configured reset timeout
 * (opossum reads `options.resetTimeout` when the `open` event starts its timer).
 */
function withResetTimeout(breaker: AgentBreaker, ms: number, open: () => void): void {
  // `options` is public in opossum 9 but missing from @types/opossum 8.
  const options = (breaker as unknown as { options: { resetTimeout: number } }).options;
  const configured = options.resetTimeout;
  options.resetTimeout = Math.max(1, Math.round(ms));
  try {
    open();
  } finally {
    options.resetTimeout = configured;
  }
}

function parseTransition(value: string): BreakerTransition | undefined {
  try {
    const parsed = breakerTransitionSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
