import { join } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import type { AgentMessage } from '../bus/agent-message.schema';
import { MessageBus, type Subscription } from '../bus/message-bus';
import { ConfigService } from '../config/config.service';
import type { ResilienceConfig } from '../config/sections/resilience.config';
import { LuaScripts } from '../redis/lua-scripts.loader';
import { RedisService } from '../redis/redis.service';
import { type ApplyRemoteTransition, BreakerPeers } from './breaker-peers';
import { type BreakerTransition, breakerTransitionSchema } from './breaker-state.type';

/** The scripts of `commands/` (each declares every key it touches in KEYS). */
export const RESILIENCE_SCRIPTS = ['save-breaker-2'] as const;

interface ResilienceCommands {
  saveBreaker(
    recordKey: string,
    indexKey: string,
    json: string,
    at: string,
    ttlMs: string,
    expiresAt: string,
    agentId: string,
  ): Promise<number>;
}

/**
 * Cross-instance breaker sharing: every local transition is broadcast on the bus (fast path)
 * and stored in Redis (`breaker:{agentId}` + the `breakers` index, for instances that start
 * later or missed a broadcast, read at boot and every BREAKER_SYNC_INTERVAL_MS). Both the bus and
 * Redis are required: a wiring mistake fails the boot instead of silently making breakers local.
 */
@Injectable()
export class BreakerSync extends BreakerPeers {
  private readonly logger = new Logger(BreakerSync.name);
  private readonly settings: ResilienceConfig;
  private readonly lua: ResilienceCommands;
  private readonly pending = new Set<Promise<unknown>>();
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private apply?: ApplyRemoteTransition;
  private stopped = false;

  constructor(
    config: ConfigService,
    private readonly bus: MessageBus,
    private readonly redis: RedisService,
  ) {
    super();
    // Explicit checks: constructed by hand (tests, tools), a missing dependency is no TypeError later.
    if (!bus) throw new Error('BreakerSync needs the MessageBus (is the bus module imported?)');
    if (!redis) throw new Error('BreakerSync needs RedisService (is the Redis module imported?)');
    this.settings = config.resilience;
    this.lua = LuaScripts.load(
      join(__dirname, 'commands'),
      RESILIENCE_SCRIPTS,
    ).defineOn<ResilienceCommands>(redis.client);
  }

  async start(apply: ApplyRemoteTransition): Promise<void> {
    this.apply = apply;
    try {
      this.subscription = await this.bus.subscribeBroadcasts((m) => this.onBroadcast(m));
    } catch (e) {
      this.logger.warn(
        `breaker transitions will reach this instance through Redis only until the bus is back: cannot subscribe to broadcasts (${(e as Error).message})`,
      );
    }
    await this.syncNow();
    const every = this.settings.breakerSyncIntervalMs;
    if (every > 0) {
      this.timer = setInterval(() => void this.syncNow(), every);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.subscription?.cancel().catch(() => undefined);
    await this.whenIdle();
  }

  async whenIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  share(transition: BreakerTransition): void {
    if (this.stopped) return;
    this.track(
      this.bus.broadcastEvent({
        fromAgent: transition.source,
        toAgent: 'control-planes',
        messageType: 'control',
        payload: transition,
      }),
      'broadcast',
    );
    if (transition.state === 'half_open') return; // the open record expires when it goes half-open
    const reset = this.settings.breakerResetTimeoutMs;
    const expiresAt =
      transition.state === 'open'
        ? (transition.openUntil ?? transition.at + reset)
        : transition.at + reset;
    const ttl = Math.max(1, expiresAt - Date.now());
    const r = this.redis;
    this.track(
      this.lua.saveBreaker(
        r.key('breaker', transition.agentId),
        r.key('breakers'),
        JSON.stringify(transition),
        String(transition.at),
        String(ttl),
        String(expiresAt),
        transition.agentId,
      ),
      'store in Redis',
    );
  }

  /** Reads the last transition of every agent from Redis and applies it (boot, then periodically). */
  async syncNow(): Promise<number> {
    const apply = this.apply;
    if (!apply || this.stopped) return 0;
    const r = this.redis;
    try {
      const index = r.key('breakers');
      await r.client.zremrangebyscore(index, '-inf', String(Date.now()));
      const agentIds = await r.client.zrange(index, '0', '-1');
      if (agentIds.length === 0) return 0;
      const values = await r.client.mget(...agentIds.map((id) => r.key('breaker', id)));
      let applied = 0;
      for (const value of values) {
        if (value === null) continue;
        const parsed = parseTransition(value);
        if (parsed && apply(parsed)) applied++;
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
    this.apply?.(parsed.data);
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
}

function parseTransition(value: string): BreakerTransition | undefined {
  try {
    const parsed = breakerTransitionSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
