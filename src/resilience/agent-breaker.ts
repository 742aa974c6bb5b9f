import type { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import type { ResilienceConfig } from '../config/sections/resilience.config';
import { BreakerOpenError } from './breaker-open.error';
import type {
  BreakerSnapshot,
  BreakerState,
  BreakerTransition,
  BreakerTransitionReason,
} from './breaker-state.type';
import type { BreakerErrorClassifier } from './error-classifier';

type AgentCall = () => Promise<unknown>;
export type OpossumBreaker = CircuitBreaker<[AgentCall], unknown>;

/** Buckets of opossum's rolling window (rotated by the registry's one timer). */
export const ROLLING_BUCKETS = 10;

/** A state change of one breaker, local or applied from another instance. */
export interface BreakerChange {
  agentId: string;
  previous: BreakerState;
  state: BreakerState;
  at: number;
  source: string;
  reason: BreakerTransitionReason;
  failures: number;
  openUntil?: number;
  /** Made by another instance (already announced there). */
  remote: boolean;
}

export interface AgentBreakerOptions {
  agentId: string;
  settings: ResilienceConfig;
  /** Does this error count as a failure? */
  counts: BreakerErrorClassifier;
  /** Emits `rotate` to advance opossum's rolling window (one timer for every breaker). */
  rotator: EventEmitter;
  /** This instance's name, as the `source` of local changes. */
  instanceId: string;
  onChange: (change: BreakerChange) => void;
}

/** A transition that came from another instance (bus or Redis), being applied locally. */
interface RemoteOrigin {
  source: string;
  at: number;
  openUntil?: number;
  reason?: BreakerTransitionReason;
  failures: number;
}

/**
 * One agent's circuit breaker, with no I/O of its own: opossum's state machine (open → reset
 * timeout → half-open with exactly one trial call → closed on success / open again on failure)
 * plus a failure window. opossum never opens on its error *percentage*; this class counts failures
 * and opens after `BREAKER_FAILURE_THRESHOLD` failures with no success in between within the
 * rolling window. Errors the classifier excludes (timeouts by default) are not counted — but a
 * half-open trial must succeed to close the breaker. Every change goes to `onChange`.
 */
export class AgentBreaker {
  readonly agentId: string;
  readonly opossum: OpossumBreaker;
  private currentState: BreakerState = 'closed';
  /** Times of the failures counted since the last success / transition (oldest first). */
  private readonly failures: number[] = [];
  /** Failures that opened it (ours or the remote instance's), reported while not closed. */
  private failuresAtOpen = 0;
  private successes = 0;
  private totalFailures = 0;
  private rejections = 0;
  private openedAt?: number;
  private openUntil?: number;
  private lastChangeAt?: number;
  private lastChangeSource?: string;
  /**
   * Time of the last open/closed transition, to recognise stale remote ones. Half-open is left
   * out: every instance reaches it on its own clock, and a trial's outcome must still apply.
   */
  private orderAt?: number;
  /** Set while a remote transition is applied, so it is not broadcast back. */
  private remote?: RemoteOrigin;
  /** Why the next local transition happens, when the caller knows better than the state pair. */
  private pendingReason?: BreakerTransitionReason;
  /** Set by the error filter when it lets an error pass as no failure: opossum then emits `success`. */
  private filtered = false;

  constructor(private readonly options: AgentBreakerOptions) {
    this.agentId = options.agentId;
    const s = options.settings;
    const window = s.breakerRollingWindowMs;
    const breaker: OpossumBreaker = new CircuitBreaker<[AgentCall], unknown>((fn) => fn(), {
      name: this.agentId,
      timeout: s.breakerCallTimeoutMs > 0 ? s.breakerCallTimeoutMs : false,
      resetTimeout: s.breakerResetTimeoutMs,
      // Never open on the error percentage: this class opens on the failure count.
      errorThresholdPercentage: 100,
      rollingCountTimeout: window > 0 ? window : 60_000,
      rollingCountBuckets: ROLLING_BUCKETS,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: options.rotator,
      // A filtered error is no failure for opossum. During the half-open trial nothing is
      // filtered: only a success closes the breaker, anything else opens it again.
      errorFilter: (err: unknown) => {
        if (breaker.halfOpen || options.counts(err)) return false;
        this.filtered = true;
        return true;
      },
    });
    this.opossum = breaker;
    breaker.on('success', () => {
      if (this.filtered) {
        this.filtered = false; // an excluded error, not a success
        return;
      }
      this.successes++;
      if (this.failures.length > 0) this.failures.length = 0;
    });
    breaker.on('failure', (error: unknown) => this.recordFailure(error));
    breaker.on('open', () => this.onTransition('open'));
    breaker.on('halfOpen', () => this.onTransition('half_open'));
    breaker.on('close', () => this.onTransition('closed'));
  }

  get state(): BreakerState {
    return this.currentState;
  }

  /**
   * Runs `fn` through the breaker. Rejects with {@link BreakerOpenError} without calling `fn`
   * when open or while the half-open trial runs; otherwise settles as `fn` does.
   */
  fire<T>(fn: () => Promise<T>): Promise<T> {
    const breaker = this.opossum;
    if (!breaker.closed && !breaker.pendingClose) return Promise.reject(this.refuse());
    // Outcomes are counted from opossum's own (synchronous) success/failure events, so the hot path
    // adds no promise of its own (see bench/scenarios/breaker.ts).
    return breaker.fire(fn) as Promise<T>;
  }

  /** Open (not half-open). */
  get isOpen(): boolean {
    return this.opossum.opened;
  }

  /** Closed, or half-open with its one trial slot free. */
  get canDispatch(): boolean {
    const b = this.opossum;
    return b.closed || (b.halfOpen && b.pendingClose);
  }

  /**
   * Closes the breaker and forgets its failures. Returns the time of a reset of an already-closed
   * breaker (nothing transitions, but other instances must still hear of it), else undefined.
   */
  reset(): number | undefined {
    this.failures.length = 0;
    if (this.currentState !== 'closed') {
      this.pendingReason = 'reset';
      this.opossum.close();
      return undefined;
    }
    const at = Date.now();
    this.lastChangeAt = at;
    this.orderAt = at;
    this.lastChangeSource = this.options.instanceId;
    return at;
  }

  /**
   * Applies a transition made by another instance. Returns whether it changed anything.
   * Stale transitions (older than this breaker's last open/close) are ignored.
   */
  applyRemote(t: BreakerTransition): boolean {
    if (this.orderAt !== undefined && t.at < this.orderAt) return false;
    const origin: RemoteOrigin = {
      source: t.source,
      at: t.at,
      openUntil: t.openUntil,
      reason: t.reason,
      failures: t.failures,
    };
    switch (t.state) {
      case 'open': {
        const reset = this.options.settings.breakerResetTimeoutMs;
        const remaining = (t.openUntil ?? t.at + reset) - Date.now();
        if (remaining <= 0 || this.currentState === 'open') return false;
        this.asRemote(origin, () =>
          withResetTimeout(this.opossum, Math.min(remaining, reset), () => this.opossum.open()),
        );
        return true;
      }
      case 'closed':
        this.failures.length = 0;
        if (this.currentState === 'closed') return false;
        this.asRemote(origin, () => this.opossum.close());
        return true;
      case 'half_open':
        // Each instance goes half-open on its own timer; the trial's outcome is what we share.
        return false;
    }
  }

  describe(): BreakerSnapshot {
    const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
    const closed = this.currentState === 'closed';
    return {
      agentId: this.agentId,
      state: this.currentState,
      failures: closed ? this.failures.length : this.failuresAtOpen,
      threshold: this.options.settings.breakerFailureThreshold,
      successes: this.successes,
      totalFailures: this.totalFailures,
      rejections: this.rejections,
      openedAt: iso(this.openedAt),
      nextAttemptAt: this.currentState === 'open' ? iso(this.openUntil) : null,
      lastChangeAt: iso(this.lastChangeAt),
      lastChangeSource: this.lastChangeSource ?? null,
    };
  }

  /** Stops opossum's timers. */
  shutdown(): void {
    this.opossum.shutdown();
  }

  private recordFailure(error: unknown): void {
    if (!this.options.counts(error)) return;
    this.totalFailures++;
    // Half-open trial failures are opossum's business (it re-opens); count only while closed.
    if (this.currentState !== 'closed') return;
    const now = Date.now();
    this.failures.push(now);
    const window = this.options.settings.breakerRollingWindowMs;
    if (window > 0) {
      while (this.failures.length > 0 && this.failures[0] <= now - window) this.failures.shift();
    }
    if (this.failures.length >= this.options.settings.breakerFailureThreshold) {
      this.pendingReason = 'failures';
      this.opossum.open();
    }
  }

  private refuse(): BreakerOpenError {
    this.rejections++;
    const state = this.currentState === 'closed' ? 'open' : this.currentState;
    const next =
      state === 'open' && this.openUntil ? new Date(this.openUntil).toISOString() : undefined;
    return new BreakerOpenError(this.agentId, state, next);
  }

  private asRemote(origin: RemoteOrigin, change: () => void): void {
    this.remote = origin;
    try {
      change();
    } finally {
      this.remote = undefined;
    }
  }

  private onTransition(state: BreakerState): void {
    const previous = this.currentState;
    if (previous === state) return;
    const remote = this.remote;
    const now = Date.now();
    const at = remote?.at ?? now;
    const source = remote?.source ?? this.options.instanceId;
    const reason = remote?.reason ?? this.pendingReason ?? defaultReason(previous, state);
    this.pendingReason = undefined;
    const failures = remote?.failures ?? this.failures.length;

    this.currentState = state;
    this.lastChangeAt = at;
    this.lastChangeSource = source;
    if (state !== 'half_open') this.orderAt = at;
    this.failures.length = 0;
    if (state === 'open') {
      this.failuresAtOpen = failures;
      this.openedAt = at;
      this.openUntil = remote?.openUntil ?? now + this.options.settings.breakerResetTimeoutMs;
    } else {
      this.openUntil = undefined;
      if (state === 'closed') this.openedAt = undefined;
    }
    this.options.onChange({
      agentId: this.agentId,
      previous,
      state,
      at,
      source,
      reason,
      failures,
      ...(state === 'open' ? { openUntil: this.openUntil } : {}),
      remote: remote !== undefined,
    });
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
function withResetTimeout(breaker: OpossumBreaker, ms: number, open: () => void): void {
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
