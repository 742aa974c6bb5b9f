import type { RetryPolicyConfig, TaskError } from '../queue/task.types';
import { errorTypeOf, isRetryableType } from './task-error-catalogue';

/** Seed defaults: max 3 retries, base 2 s, cap 60 s, exponential, jitter ×[0.8, 1.2]. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicyConfig> = Object.freeze({
  maxRetries: 3,
  baseDelayMs: 2000,
  maxDelayMs: 60_000,
  jitter: [0.8, 1.2] as [number, number],
});

export type RetryDecision =
  | { retry: true; delayMs: number; /** 0 for the first retry. */ retryIndex: number }
  | { retry: false; reason: 'non_retryable' | 'retries_exhausted' };

/** A source of uniform numbers in [0, 1); injectable so tests are deterministic. */
export type RandomSource = () => number;

/** Merges a per-task override onto the defaults, validating the result. */
export function resolveRetryPolicy(
  defaults: RetryPolicyConfig,
  override: Partial<RetryPolicyConfig> = {},
): RetryPolicyConfig {
  const policy: RetryPolicyConfig = {
    maxRetries: override.maxRetries ?? defaults.maxRetries,
    baseDelayMs: override.baseDelayMs ?? defaults.baseDelayMs,
    maxDelayMs: override.maxDelayMs ?? defaults.maxDelayMs,
    jitter: override.jitter ?? defaults.jitter,
  };
  const retryOn = override.retryOn ?? defaults.retryOn;
  const noRetryOn = override.noRetryOn ?? defaults.noRetryOn;
  if (retryOn) policy.retryOn = retryOn;
  if (noRetryOn) policy.noRetryOn = noRetryOn;
  if (policy.jitter[0] > policy.jitter[1]) {
    throw new RangeError('retry jitter: the lower bound must not exceed the upper bound');
  }
  return policy;
}

/**
 * Is this error worth another attempt? Per-task `noRetryOn` wins, then per-task `retryOn`, then
 * the task-error catalogue; a type the catalogue does not know falls back to what the executor
 * said (`error.retryable`).
 */
export function shouldRetryError(error: TaskError, policy?: RetryPolicyConfig): boolean {
  if (policy?.noRetryOn?.includes(error.type)) return false;
  if (policy?.retryOn?.includes(error.type)) return true;
  return isRetryableType(error.type, error.retryable);
}

/**
 * Delay before retry number `retryIndex` (0-based): `base × 2^retryIndex`, capped at
 * `maxDelayMs`, times a random factor in `jitter`, and never above the cap.
 */
export function calculateDelay(
  retryIndex: number,
  policy: RetryPolicyConfig,
  random: RandomSource = Math.random,
): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, retryIndex);
  const capped = Math.min(policy.maxDelayMs, exponential);
  const [lo, hi] = policy.jitter;
  const factor = lo + (hi - lo) * random();
  return Math.round(Math.min(policy.maxDelayMs, capped * factor));
}

/**
 * What to do after attempt number `attempt` (0 for the first) failed with `error`: retry after a
 * delay, or give up.
 */
export function decideRetry(
  error: TaskError,
  attempt: number,
  policy: RetryPolicyConfig,
  random: RandomSource = Math.random,
): RetryDecision {
  if (!shouldRetryError(error, policy)) return { retry: false, reason: 'non_retryable' };
  if (attempt >= policy.maxRetries) return { retry: false, reason: 'retries_exhausted' };
  return { retry: true, delayMs: calculateDelay(attempt, policy, random), retryIndex: attempt };
}

/** Turns anything thrown into a {@link TaskError}, classifying common Node/transport errors. */
export function toTaskError(err: unknown): TaskError {
  if (isTaskError(err)) return err;
  const e = err as { message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const type = errorTypeOf(err);
  return { type, message, retryable: isRetryableType(type) };
}

export function isTaskError(value: unknown): value is TaskError {
  const v = value as Partial<TaskError> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.type === 'string' &&
    typeof v.message === 'string' &&
    typeof v.retryable === 'boolean'
  );
}

export interface ExecuteWithRetryOptions {
  policy?: RetryPolicyConfig;
  /** Maps a thrown value to a task error (default {@link toTaskError}). */
  classify?: (err: unknown) => TaskError;
  /** Called before each wait. */
  onRetry?: (info: { attempt: number; delayMs: number; error: TaskError }) => void;
  random?: RandomSource;
  /** Stops waiting and retrying. */
  signal?: AbortSignal;
}

/** Thrown by {@link RetryPolicyEngine.execute} when it gives up; carries the last error. */
export class RetriesExhaustedError extends Error {
  constructor(
    readonly lastError: TaskError,
    readonly attempts: number,
    readonly reason: 'non_retryable' | 'retries_exhausted',
  ) {
    super(`gave up after ${attempts} attempt(s) (${reason}): ${lastError.message}`);
    this.name = 'RetriesExhaustedError';
  }
}

/**
 * The seed's RetryPolicyEngine for in-process calls (e.g. a bus send). The task queue applies
 * the same rules through {@link decideRetry}, with the wait carried by a delayed queue job.
 */
export class RetryPolicyEngine {
  constructor(private readonly defaults: RetryPolicyConfig = DEFAULT_RETRY_POLICY) {}

  calculateDelay(retryIndex: number, random?: RandomSource): number {
    return calculateDelay(retryIndex, this.defaults, random);
  }

  shouldRetry(error: TaskError, attempt: number): boolean {
    return decideRetry(error, attempt, this.defaults, () => 0).retry;
  }

  /** Runs `fn` until it succeeds or the policy gives up (then throws RetriesExhaustedError). */
  async execute<T>(
    fn: (attempt: number) => Promise<T>,
    options: ExecuteWithRetryOptions = {},
  ): Promise<T> {
    const policy = options.policy ?? this.defaults;
    const classify = options.classify ?? toTaskError;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (err) {
        const error = classify(err);
        const decision = decideRetry(error, attempt, policy, options.random);
        if (!decision.retry || options.signal?.aborted) {
          throw new RetriesExhaustedError(
            error,
            attempt + 1,
            decision.retry ? 'retries_exhausted' : decision.reason,
          );
        }
        options.onRetry?.({ attempt, delayMs: decision.delayMs, error });
        await sleep(decision.delayMs, options.signal);
      }
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
