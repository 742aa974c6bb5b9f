import { backoffDelay, retryWithBackoff } from './retry-with-backoff.util';

describe('retryWithBackoff', () => {
  it('retries with exponential delays until the call succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await retryWithBackoff(
      async () => {
        calls++;
        if (calls < 3) throw new Error('ECONNREFUSED');
        return 'ok';
      },
      { attempts: 5, baseMs: 50, sleep: async (ms) => void delays.push(ms), random: () => 0.5 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toEqual([50, 100]);
  });

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0;
    await expect(
      retryWithBackoff(
        async () => {
          calls++;
          throw new Error(`fail ${calls}`);
        },
        { attempts: 3, baseMs: 1, sleep: async () => undefined },
      ),
    ).rejects.toThrow('fail 3');
    expect(calls).toBe(3);
  });

  it('does not retry errors that are not retryable', async () => {
    let calls = 0;
    await expect(
      retryWithBackoff(
        async () => {
          calls++;
          throw new Error('AccessDenied');
        },
        { attempts: 5, baseMs: 1, retryable: () => false, sleep: async () => undefined },
      ),
    ).rejects.toThrow('AccessDenied');
    expect(calls).toBe(1);
  });

  it('caps the delay and applies jitter within x[0.8, 1.2]', () => {
    expect(backoffDelay(10, 100, 1000, () => 0.5)).toBe(1000);
    expect(backoffDelay(1, 100, 1000, () => 0)).toBe(80);
    expect(backoffDelay(1, 100, 1000, () => 1)).toBe(120);
  });
});
