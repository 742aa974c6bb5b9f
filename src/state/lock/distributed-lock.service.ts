import { randomBytes } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code.enum';
import { ConfigService } from '../../config/config.service';
import { RedisService } from '../../redis/redis.service';
import { stateCommands, type StateRedisCommands } from '../state-redis-commands';
import type { ChainableCommander } from 'ioredis';
import type { AcquireOptions, LockHandle, PipelinedRead } from './lock-handle';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Redis locks with fencing tokens. Acquire is `SET NX PX` plus an `INCR` of the lock's fencing
 * counter in one script; release and extend compare the token (Lua in `state/commands/`). A
 * watchdog extends the lock every ttl/3 while the holder works; a lock held past the maximum is
 * force-released (by its own watchdog, or by the next contender) and logged.
 *
 * A lock alone cannot stop a holder that was paused past its ttl from writing afterwards: the
 * store checks the fencing token of every write (see `state-write-4.lua`).
 *
 * Across a Sentinel failover (REDIS_SENTINELS) the token still only grows. Replication is
 * asynchronous, so the promoted replica may lack the last lock and counter writes of the old
 * master: it can grant the same lock again, and a plain INCR would hand out a token equal to or
 * below one already in a writer's hands. Two things prevent that:
 * 1. The token is max(counter + 1, server time in ms * 1000) (`state-lock-acquire-2.lua`). A
 *    token from the old master is at most (its clock at the grant) * 1000 + the grants of that
 *    lock within the same ms (under 1000: grants of one lock are serialised by the lock). The
 *    new master exists only after Sentinel's down-after-milliseconds plus the election, so its
 *    clock reads later by more than that - its first token is larger, provided the hosts'
 *    clocks (NTP) differ by less than the failover takes (seconds).
 * 2. With REDIS_MIN_REPLICAS_ACK > 0 a token is handed out only after WAIT confirmed the
 *    counter reached that many replicas, so a promoted replica that had it continues from it
 *    whatever the clocks say; a WAIT timeout releases the lock and answers 503.
 * A stale holder's write then meets a larger issued token on the new master and is refused.
 */
@Injectable()
export class DistributedLockService implements OnApplicationShutdown {
  private readonly logger = new Logger(DistributedLockService.name);
  private readonly lua: StateRedisCommands;
  private readonly held = new Set<Handle>();

  constructor(
    private readonly redis: RedisService,
    private readonly config: ConfigService,
  ) {
    this.lua = stateCommands(redis.client);
  }

  lockKey = (name: string): string => this.redis.key('state', 'lock', name);
  fenceKey = (name: string): string => this.redis.key('state', 'fence', name);

  /** Takes the lock once; undefined when someone else holds it. */
  async tryAcquire(name: string, options: AcquireOptions = {}): Promise<LockHandle | undefined> {
    const result = await this.attempt(name, options);
    return 'handle' in result ? result.handle : undefined;
  }

  /** Waits (polling with jitter) up to `waitMs` for the lock; 409 when it stays busy. */
  async acquire(name: string, options: AcquireOptions = {}): Promise<LockHandle> {
    return (await this.acquireAndRead(name, undefined, options)).lock;
  }

  /**
   * Like {@link acquire}, and runs `read` in the same round trip right after a successful
   * acquisition (what it reads is what the holder saw first; writes still check versions).
   */
  async acquireAndRead<T>(
    name: string,
    read: PipelinedRead<T> | undefined,
    options: AcquireOptions = {},
  ): Promise<{ lock: LockHandle; value: T | undefined }> {
    const waitMs = options.waitMs ?? this.config.state.lockWaitMs;
    const deadline = Date.now() + waitMs;
    let delay = 1;
    for (;;) {
      const result = await this.attempt(name, options, read);
      if ('handle' in result) return { lock: result.handle, value: result.value };
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new AppException(
          ErrorCode.Conflict,
          `Lock '${name}' is busy: not acquired within ${waitMs} ms`,
          { lock: name, waitMs },
        );
      }
      // Short, jittered polls: a document lock is held for a few Redis round trips, so a long
      // backoff would only add latency. Never sleep past the holder's remaining ttl.
      const pause = Math.min(delay * (0.5 + Math.random()), left, Math.max(1, result.pttl));
      await sleep(pause);
      delay = Math.min(delay * 1.5, 8);
    }
  }

  /** Runs `fn` holding the lock; always releases. */
  async withLock<T>(
    name: string,
    fn: (lock: LockHandle) => Promise<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    const lock = await this.acquire(name, options);
    try {
      return await fn(lock);
    } finally {
      await lock.release().catch((e: Error) => this.logger.warn(`release ${name}: ${e.message}`));
    }
  }

  /** The fencing token most recently issued for a lock (0 if never acquired). */
  async currentFence(name: string): Promise<number> {
    return Number((await this.redis.client.get(this.fenceKey(name))) ?? 0);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.held].map((h) => h.release().catch(() => false)));
  }

  private async attempt<T>(
    name: string,
    options: AcquireOptions,
    read?: PipelinedRead<T>,
  ): Promise<{ handle: LockHandle; value: T | undefined } | { pttl: number }> {
    const ttlMs = options.ttlMs ?? this.config.state.lockTtlMs;
    const maxHoldMs = options.maxHoldMs ?? this.config.state.lockMaxHoldMs;
    const acquiredAt = Date.now();
    const token = `${acquiredAt}.${randomBytes(8).toString('hex')}`;
    let reply: [number, string | number];
    let readReply: unknown;
    const failoverSafe = this.redis.sentinel ? '1' : '0';
    if (read) {
      const pipeline = this.redis.client.pipeline();
      (pipeline as unknown as PipelineCommands).stateLockAcquire(
        this.lockKey(name),
        this.fenceKey(name),
        token,
        ttlMs,
        maxHoldMs,
        failoverSafe,
      );
      read.queue(pipeline);
      const results = (await pipeline.exec()) ?? [];
      for (const [err] of results) if (err) throw err;
      reply = results[0]?.[1] as [number, string | number];
      readReply = results[1]?.[1];
    } else {
      reply = await this.lua.stateLockAcquire(
        this.lockKey(name),
        this.fenceKey(name),
        token,
        ttlMs,
        maxHoldMs,
        failoverSafe,
      );
    }
    const [fence, extra] = reply;
    if (Number(fence) === 0) return { pttl: Number(extra) };
    await this.confirmFence(name, token, Number(fence));
    if (typeof extra === 'string' && extra !== '') {
      this.logger.error(
        { lock: name, forcedToken: extra, maxHoldMs },
        `lock '${name}' was held longer than ${maxHoldMs} ms: force-released`,
      );
    }
    const handle = new Handle(this, name, token, Number(fence), acquiredAt, ttlMs, maxHoldMs);
    if (options.watchdog ?? true) handle.startWatchdog();
    return { handle, value: read ? read.parse(readReply) : undefined };
  }

  /** REDIS_MIN_REPLICAS_ACK: the token is handed out only once replicas have its counter. */
  private async confirmFence(name: string, token: string, fence: number): Promise<void> {
    if (!this.redis.replicaAck.enabled) return;
    try {
      await this.redis.replicaAck.confirm(this.redis.client, `Lock '${name}' (fence ${fence})`, {
        details: { lock: name, fence },
      });
    } catch (e) {
      // Not handed out: nobody writes with this token. Free the lock for the next contender.
      await this.releaseToken(name, token).catch(() => false);
      throw e;
    }
  }

  /** @internal used by handles */
  queueRelease(pipeline: ChainableCommander, name: string, token: string): void {
    (pipeline as unknown as PipelineCommands).stateLockRelease(this.lockKey(name), token);
  }

  /** @internal used by handles */
  async extend(handle: Handle): Promise<number> {
    return this.lua.stateLockExtend(
      this.lockKey(handle.name),
      handle.token,
      handle.ttlMs,
      handle.maxHoldMs,
    );
  }

  /** @internal used by handles */
  async releaseToken(name: string, token: string): Promise<boolean> {
    return (await this.lua.stateLockRelease(this.lockKey(name), token)) === 1;
  }

  /** @internal */
  track(handle: Handle, held: boolean): void {
    if (held) this.held.add(handle);
    else this.held.delete(handle);
  }

  /** @internal */
  log(level: 'warn' | 'error', obj: Record<string, unknown>, message: string): void {
    this.logger[level](obj, message);
  }
}

/** The lock scripts as queued on a pipeline. */
interface PipelineCommands {
  stateLockAcquire(...args: (string | number)[]): unknown;
  stateLockRelease(...args: (string | number)[]): unknown;
}

class Handle implements LockHandle {
  lost = false;
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  constructor(
    private readonly locks: DistributedLockService,
    readonly name: string,
    readonly token: string,
    readonly fence: number,
    readonly acquiredAt: number,
    readonly ttlMs: number,
    readonly maxHoldMs: number,
  ) {}

  startWatchdog(): void {
    this.locks.track(this, true);
    const every = Math.max(5, Math.floor(this.ttlMs / 3));
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.released || this.lost) return;
    try {
      const result = await this.locks.extend(this);
      if (result === 1) return;
      this.lost = true;
      this.stopWatchdog();
      if (result === -1) {
        this.locks.log(
          'error',
          { lock: this.name, fence: this.fence, heldMs: Date.now() - this.acquiredAt },
          `lock '${this.name}' held longer than ${this.maxHoldMs} ms: force-released`,
        );
      } else {
        this.locks.log(
          'warn',
          { lock: this.name, fence: this.fence },
          `lock '${this.name}' expired or was taken over while held; writes under it will be refused`,
        );
      }
    } catch (e) {
      // Redis unreachable: keep trying; the lock expires on its own if we cannot extend it.
      this.locks.log('warn', { lock: this.name }, `lock watchdog: ${(e as Error).message}`);
    }
  }

  private stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.locks.track(this, false);
  }

  releaseIn(pipeline: ChainableCommander): void {
    if (this.released) return;
    this.released = true;
    this.stopWatchdog();
    this.locks.queueRelease(pipeline, this.name, this.token);
  }

  async release(): Promise<boolean> {
    if (this.released) return false;
    this.released = true;
    this.stopWatchdog();
    return this.locks.releaseToken(this.name, this.token);
  }
}
