import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { ConfigService } from '../config/config.service';
import type { ResilienceConfig } from '../config/sections/resilience.config';
import { EventsService } from '../events/events.service';
import type { SwitchyardEventType } from '../events/switchyard-event.type';
import { MetricsService } from '../observability/metrics.service';
import { withSpan } from '../observability/tracing';
import {
  AgentBreaker,
  type BreakerChange,
  type OpossumBreaker,
  ROLLING_BUCKETS,
} from './agent-breaker';
import { BreakerPeers } from './breaker-peers';
import {
  BREAKER_STATE_GAUGE,
  type BreakerSnapshot,
  type BreakerState,
  type BreakerTransition,
} from './breaker-state.type';
import {
  BREAKER_ERROR_CLASSIFIER,
  type BreakerErrorClassifier,
  defaultErrorClassifier,
} from './error-classifier';

const EVENT_FOR_STATE: Record<BreakerState, SwitchyardEventType> = {
  open: 'breaker.opened',
  half_open: 'breaker.half_open',
  closed: 'breaker.closed',
};

/**
 * One {@link AgentBreaker} per agent (seed 2.1), shared by every control-plane instance through
 * {@link BreakerPeers} (the module provides BreakerSync: bus + Redis). This class owns the map of
 * breakers, the one timer that rotates their rolling windows, and what a transition means to the
 * rest of the app: a log line, `circuit_breaker_state{agent}`, a `breaker.*` event and a share
 * with the other instances. Transitions from other instances are applied locally (an open one
 * with the remaining open time), so an agent that failed for one instance is avoided by all.
 */
@Injectable()
export class BreakerRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BreakerRegistry.name);
  private readonly breakers = new Map<string, AgentBreaker>();
  private readonly settings: ResilienceConfig;
  private readonly counts: BreakerErrorClassifier;
  /** One timer rotates the rolling-window buckets of every breaker, instead of one per breaker. */
  private readonly rotator = new EventEmitter();
  private rotateTimer?: NodeJS.Timeout;
  private closed = false;
  /** This control-plane instance, as named in shared transitions (`source`). */
  readonly instanceId: string;

  constructor(
    config: ConfigService,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
    private readonly peers: BreakerPeers,
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

  async onApplicationBootstrap(): Promise<void> {
    await this.peers.start((t) => this.applyRemote(t));
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.rotateTimer) clearInterval(this.rotateTimer);
    await this.peers.stop();
    for (const breaker of this.breakers.values()) breaker.shutdown();
    this.breakers.clear();
  }

  /** Resolves once every pending broadcast / Redis write has settled (tests, shutdown). */
  whenIdle(): Promise<void> {
    return this.peers.whenIdle();
  }

  /** The agent's opossum breaker, created on first use. */
  breakerFor(agentId: string): OpossumBreaker {
    return this.breaker(agentId).opossum;
  }

  /**
   * Runs `fn` (a call to the agent) through its breaker. Rejects with BreakerOpenError without
   * calling `fn` when the breaker is open or its half-open trial is already running; otherwise
   * settles as `fn` does, counting the outcome.
   */
  fire<T>(agentId: string, fn: () => Promise<T>): Promise<T> {
    const breaker = this.breaker(agentId);
    // Inside a traced task the call gets its own span; outside a trace a span would be orphaned.
    if (trace.getActiveSpan()) {
      return withSpan(
        'circuit_breaker_call',
        { 'agent.id': agentId, 'breaker.state': breaker.state },
        () => breaker.fire(fn),
      );
    }
    return breaker.fire(fn);
  }

  /** True while the agent's breaker is open (not half-open). */
  isOpen(agentId: string): boolean {
    return this.breakers.get(agentId)?.isOpen ?? false;
  }

  /** May a task be sent to this agent now: closed, or half-open with its one trial slot free. */
  canDispatch(agentId: string): boolean {
    return this.breakers.get(agentId)?.canDispatch ?? true;
  }

  state(agentId: string): BreakerState {
    return this.breakers.get(agentId)?.state ?? 'closed';
  }

  /** Does this instance hold a breaker for the agent (it called it, or heard of it opening)? */
  isTracked(agentId: string): boolean {
    return this.breakers.has(agentId);
  }

  /** The agent's breaker; an agent this instance never called reports a fresh closed breaker. */
  snapshot(agentId: string): BreakerSnapshot & { tracked: boolean } {
    const breaker = this.breakers.get(agentId);
    if (breaker) return { ...breaker.describe(), tracked: true };
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

  /** Every breaker this instance knows, by agent id. */
  list(): BreakerSnapshot[] {
    return [...this.breakers.values()]
      .sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0))
      .map((b) => b.describe());
  }

  /** Closes the agent's breaker and forgets its failures, here and on every other instance. */
  reset(agentId: string): BreakerSnapshot {
    const breaker = this.breaker(agentId);
    const at = breaker.reset();
    if (at !== undefined) {
      // Already closed here; others may still have it open (e.g. a missed message): tell them.
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
    return breaker.describe();
  }

  /**
   * Applies a transition made by another instance. Returns whether it changed anything here.
   * Stale transitions (older than this breaker's last change) and our own are ignored.
   */
  applyRemote(transition: BreakerTransition): boolean {
    if (this.closed || transition.source === this.instanceId) return false;
    let breaker = this.breakers.get(transition.agentId);
    if (!breaker) {
      // Only a still-open breaker is worth creating one for.
      if (transition.state !== 'open') return false;
      const until = transition.openUntil ?? transition.at + this.settings.breakerResetTimeoutMs;
      if (until <= Date.now()) return false;
      breaker = this.breaker(transition.agentId);
    }
    return breaker.applyRemote(transition);
  }

  /** Reads the stored transitions of every agent now and applies them. */
  syncFromRedis(): Promise<number> {
    return this.closed ? Promise.resolve(0) : this.peers.syncNow();
  }

  private breaker(agentId: string): AgentBreaker {
    let breaker = this.breakers.get(agentId);
    if (breaker) return breaker;
    breaker = new AgentBreaker({
      agentId,
      settings: this.settings,
      counts: this.counts,
      rotator: this.rotator,
      instanceId: this.instanceId,
      onChange: (change) => this.onChange(change),
    });
    this.breakers.set(agentId, breaker);
    this.metrics.circuitBreakerState.set({ agent: agentId }, BREAKER_STATE_GAUGE.closed);
    this.startRotating();
    return breaker;
  }

  private startRotating(): void {
    if (this.rotateTimer) return;
    const window =
      this.settings.breakerRollingWindowMs > 0 ? this.settings.breakerRollingWindowMs : 60_000;
    this.rotateTimer = setInterval(() => this.rotator.emit('rotate'), window / ROLLING_BUCKETS);
    this.rotateTimer.unref();
  }

  private onChange(c: BreakerChange): void {
    this.metrics.circuitBreakerState.set({ agent: c.agentId }, BREAKER_STATE_GAUGE[c.state]);
    const fields = {
      msg: `circuit breaker ${c.previous} -> ${c.state}`,
      agent_id: c.agentId,
      state: c.state,
      previous: c.previous,
      reason: c.reason,
      failures: c.failures,
      source: c.source,
    };
    if (c.state === 'open') this.logger.warn(fields);
    else this.logger.log(fields);

    // Remote transitions were announced by the instance that made them.
    if (c.remote) return;
    this.events.emit(EVENT_FOR_STATE[c.state], {
      agentId: c.agentId,
      source: c.source,
      data: {
        failures: c.failures,
        source: c.source,
        reason: c.reason,
        previous: c.previous,
        ...(c.openUntil ? { nextAttemptAt: new Date(c.openUntil).toISOString() } : {}),
      },
    });
    this.share({
      kind: 'breaker',
      agentId: c.agentId,
      state: c.state,
      at: c.at,
      source: c.source,
      failures: c.failures,
      reason: c.reason,
      ...(c.state === 'open' ? { openUntil: c.openUntil } : {}),
    });
  }

  private share(transition: BreakerTransition): void {
    if (!this.closed) this.peers.share(transition);
  }
}
