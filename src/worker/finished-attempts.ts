import type { ExecutionInfo } from './agent-runtime';
import type { ExecutionResult } from './executors/executor.types';

/** One remembered finished attempt. */
export interface FinishedAttempt {
  info: ExecutionInfo;
  /** The delivery it answered: only a redelivery of that same message is answered from here. */
  deliveryId?: string;
  result: ExecutionResult;
  /** `Date.now()` when it finished. */
  at: number;
}

/**
 * Recently finished attempts (`taskId:attempt` → result), so a broker redelivery of one is
 * answered from the record instead of running again. A bounded LRU with a TTL: a Map keeps
 * insertion order, so the oldest entries are at the front and are evicted first.
 */
export class FinishedAttempts {
  private readonly entries = new Map<string, FinishedAttempt>();
  private readonly maxEntries: number;

  constructor(
    maxEntries: number,
    private readonly ttlMs: number,
  ) {
    this.maxEntries = Math.max(0, maxEntries);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Stores a finished attempt's result. A `drained` one is not stored: the attempt was handed
   * back without an answer and must run when it comes back.
   */
  remember(
    k: string,
    info: ExecutionInfo,
    result: ExecutionResult,
    deliveryId: string | undefined,
  ): void {
    if (this.maxEntries === 0 || this.ttlMs <= 0) return;
    if (!result.ok && result.error.type === 'drained') return;
    const now = Date.now();
    this.entries.delete(k);
    this.entries.set(k, { info: { ...info }, result, at: now, deliveryId });
    for (const [oldest, f] of this.entries) {
      if (this.entries.size <= this.maxEntries && now - f.at < this.ttlMs) break;
      this.entries.delete(oldest);
    }
  }

  /** The attempt, if remembered and not expired (an expired one is dropped). */
  recall(k: string): FinishedAttempt | undefined {
    const f = this.entries.get(k);
    if (!f) return undefined;
    if (Date.now() - f.at >= this.ttlMs) {
      this.entries.delete(k);
      return undefined;
    }
    return f;
  }
}
