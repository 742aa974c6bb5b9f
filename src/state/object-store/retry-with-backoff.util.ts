export interface BackoffOptions {
  attempts: number;
  baseMs: number;
  maxMs?: number;
  /** False for errors not worth retrying (e.g. 403); default: retry everything. */
  retryable?: (err: unknown) => boolean;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Delay before attempt `n+1` (n ≥ 1): base·2^(n-1), capped, jitter ×[0.8,1.2]. */
export function backoffDelay(
  n: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const raw = Math.min(maxMs, baseMs * 2 ** (n - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/** Runs `fn` up to `attempts` times with exponential backoff; rethrows the last error. */
export async function retryWithBackoff<T>(
  fn: () => Promise<T>,
  options: BackoffOptions,
): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxMs = options.maxMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= options.attempts || (options.retryable && !options.retryable(e))) throw e;
      await sleep(backoffDelay(attempt, options.baseMs, maxMs, options.random));
    }
  }
}
