import type { TaskError } from '../queue/task.types';
import {
  calculateDelay,
  decideRetry,
  DEFAULT_RETRY_POLICY,
  shouldRetryError,
  resolveRetryPolicy,
  RetriesExhaustedError,
  RetryPolicyEngine,
  toTaskError,
} from './retry-policy';

const err = (type: string, retryable = true): TaskError => ({ type, message: type, retryable });
const mid = () => 0.5; // jitter factor exactly 1.0 with [0.8, 1.2]

describe('calculateDelay', () => {
  it('doubles from the base: 2 s, 4 s, 8 s, 16 s, 32 s', () => {
    expect([0, 1, 2, 3, 4].map((n) => calculateDelay(n, DEFAULT_RETRY_POLICY, mid))).toEqual([
      2000, 4000, 8000, 16000, 32000,
    ]);
  });

  it('caps at 60 s, jitter included', () => {
    expect(calculateDelay(5, DEFAULT_RETRY_POLICY, mid)).toBe(60_000);
    expect(calculateDelay(20, DEFAULT_RETRY_POLICY, () => 0.999)).toBe(60_000);
    expect(calculateDelay(20, DEFAULT_RETRY_POLICY, () => 0)).toBe(48_000);
  });

  it('applies jitter within ×[0.8, 1.2]', () => {
    expect(calculateDelay(0, DEFAULT_RETRY_POLICY, () => 0)).toBe(1600);
    expect(calculateDelay(0, DEFAULT_RETRY_POLICY, () => 0.9999999)).toBe(2400);
    const seen = new Set(Array.from({ length: 50 }, () => calculateDelay(1, DEFAULT_RETRY_POLICY)));
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(3200);
      expect(d).toBeLessThanOrEqual(4800);
    }
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe('shouldRetryError / decideRetry', () => {
  it('retries timeouts, connection errors and busy agents; never validation, auth, not found', () => {
    for (const t of ['timeout', 'connection', 'agent_busy'])
      expect(shouldRetryError(err(t, false))).toBe(true);
    for (const t of ['validation', 'auth', 'not_found'])
      expect(shouldRetryError(err(t, true))).toBe(false);
    expect(shouldRetryError(err('weird', true))).toBe(true);
    expect(shouldRetryError(err('weird', false))).toBe(false);
  });

  it('honours per-task retryOn / noRetryOn overrides', () => {
    const policy = resolveRetryPolicy(DEFAULT_RETRY_POLICY, {
      retryOn: ['not_found'],
      noRetryOn: ['timeout'],
    });
    expect(shouldRetryError(err('not_found'), policy)).toBe(true);
    expect(shouldRetryError(err('timeout'), policy)).toBe(false);
  });

  it('retries up to maxRetries, then gives up', () => {
    expect(decideRetry(err('timeout'), 0, DEFAULT_RETRY_POLICY, mid)).toEqual({
      retry: true,
      delayMs: 2000,
      retryIndex: 0,
    });
    expect(decideRetry(err('timeout'), 2, DEFAULT_RETRY_POLICY, mid)).toEqual({
      retry: true,
      delayMs: 8000,
      retryIndex: 2,
    });
    expect(decideRetry(err('timeout'), 3, DEFAULT_RETRY_POLICY)).toEqual({
      retry: false,
      reason: 'retries_exhausted',
    });
    expect(decideRetry(err('validation'), 0, DEFAULT_RETRY_POLICY)).toEqual({
      retry: false,
      reason: 'non_retryable',
    });
  });

  it('merges a per-task override and rejects an inverted jitter range', () => {
    expect(resolveRetryPolicy(DEFAULT_RETRY_POLICY, { maxRetries: 5 })).toMatchObject({
      maxRetries: 5,
      baseDelayMs: 2000,
    });
    expect(() => resolveRetryPolicy(DEFAULT_RETRY_POLICY, { jitter: [1.5, 1] })).toThrow(/jitter/);
  });
});

describe('toTaskError', () => {
  it('classifies timeouts and connection errors', () => {
    expect(toTaskError(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toMatchObject({
      type: 'timeout',
      retryable: true,
    });
    expect(toTaskError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toMatchObject({
      type: 'connection',
      retryable: true,
    });
    expect(toTaskError(err('auth', false))).toEqual(err('auth', false));
  });
});

describe('RetryPolicyEngine.execute (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('succeeds first time without waiting', async () => {
    const fn = jest.fn(async () => 'ok');
    await expect(new RetryPolicyEngine().execute(fn)).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('fails twice, then succeeds on the third attempt after 2 s and 4 s', async () => {
    let calls = 0;
    const waits: number[] = [];
    const p = new RetryPolicyEngine().execute(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('slow'), { name: 'TimeoutError' });
        return calls;
      },
      { random: mid, onRetry: ({ delayMs }) => waits.push(delayMs) },
    );
    await jest.advanceTimersByTimeAsync(1999);
    expect(calls).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    await jest.advanceTimersByTimeAsync(4000);
    await expect(p).resolves.toBe(3);
    expect(waits).toEqual([2000, 4000]);
  });

  it('gives up after 1 + 3 attempts with RetriesExhaustedError', async () => {
    let calls = 0;
    const p = new RetryPolicyEngine().execute(async () => {
      calls++;
      throw Object.assign(new Error('refused'), err('connection'));
    });
    const settled = p.catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(200_000);
    const e = (await settled) as RetriesExhaustedError;
    expect(e).toBeInstanceOf(RetriesExhaustedError);
    expect(e.attempts).toBe(4);
    expect(e.reason).toBe('retries_exhausted');
    expect(calls).toBe(4);
  });

  it('does not retry a non-retryable error', async () => {
    const fn = jest.fn(async () => {
      throw Object.assign(new Error('bad'), err('validation', false));
    });
    await expect(new RetryPolicyEngine().execute(fn)).rejects.toMatchObject({
      reason: 'non_retryable',
      attempts: 1,
    });
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
