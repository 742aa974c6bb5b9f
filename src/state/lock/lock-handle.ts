import type { ChainableCommander } from 'ioredis';

/** A held lock. Writes made under it carry {@link fence}. */
export interface LockHandle {
  readonly name: string;
  /** Unique per acquisition; `<acquiredAtMs>.<random>`. */
  readonly token: string;
  /** Fencing token: larger than that of every earlier acquisition of this lock. */
  readonly fence: number;
  readonly acquiredAt: number;
  /** True once the watchdog found the lock expired, taken over or force-released. */
  readonly lost: boolean;
  /** Stops the watchdog and releases the lock; false when it was no longer ours. */
  release(): Promise<boolean>;
  /**
   * Queues the release on `pipeline` (after a write queued on it, saving a round trip) and stops
   * the watchdog. The pipeline's reply for it is 1 when released.
   */
  releaseIn(pipeline: ChainableCommander): void;
}

/** Commands queued in the same round trip as the lock acquisition (e.g. reading the document). */
export interface PipelinedRead<T> {
  queue(pipeline: ChainableCommander): void;
  parse(reply: unknown): T;
}

export interface AcquireOptions {
  /** Lock expiry (default STATE_LOCK_TTL_MS). */
  ttlMs?: number;
  /** How long to wait for a busy lock (default STATE_LOCK_WAIT_MS); 0 = try once. */
  waitMs?: number;
  /** Extend the lock every ttl/3 while held (default true). */
  watchdog?: boolean;
  /** Force-release after this long (default STATE_LOCK_MAX_HOLD_MS). */
  maxHoldMs?: number;
}
