import { EventEmitter } from 'node:events';
import { loadConfig } from '../config/load-config';
import { AgentBreaker, type BreakerChange } from './agent-breaker';
import { BreakerOpenError } from './breaker-open.error';
import { defaultErrorClassifier } from './error-classifier';

const settings = loadConfig({ SWITCHYARD_ADMIN_TOKEN: 'x'.repeat(24) }).resilience;
const down = () => Promise.reject(new Error('down'));
const up = () => Promise.resolve('up');

function make(overrides: Partial<typeof settings> = {}) {
  const changes: BreakerChange[] = [];
  const rotator = new EventEmitter();
  const breaker = new AgentBreaker({
    agentId: 'agent-1',
    settings: { ...settings, ...overrides },
    counts: defaultErrorClassifier({ countTimeouts: false }),
    rotator,
    instanceId: 'cp-test',
    onChange: (c) => changes.push(c),
  });
  return { breaker, changes };
}

async function fail(breaker: AgentBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await breaker.fire(down).catch(() => undefined);
}

describe('AgentBreaker (pure: opossum + failure window, fake timers)', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  it('opens at the threshold within the window, refuses while open, half-opens after the reset timeout', async () => {
    const { breaker, changes } = make({
      breakerFailureThreshold: 3,
      breakerResetTimeoutMs: 10_000,
    });
    await fail(breaker, 2);
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([
      expect.objectContaining({
        previous: 'closed',
        state: 'open',
        reason: 'failures',
        failures: 3,
        remote: false,
      }),
    ]);
    await expect(breaker.fire(up)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(breaker.describe()).toMatchObject({
      rejections: 1,
      nextAttemptAt: '2026-01-01T00:00:10.000Z',
    });
    jest.advanceTimersByTime(10_000);
    expect(breaker.state).toBe('half_open');
    expect(breaker.canDispatch).toBe(true);
    await expect(breaker.fire(up)).resolves.toBe('up');
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => c.reason)).toEqual(['failures', 'timer', 'trial_succeeded']);
  });

  it('forgets failures older than the rolling window', async () => {
    const { breaker } = make({ breakerFailureThreshold: 3, breakerRollingWindowMs: 1000 });
    await fail(breaker, 2);
    jest.advanceTimersByTime(1001);
    await fail(breaker, 2);
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('a success resets the count; an excluded error (timeout) neither counts nor resets it', async () => {
    const { breaker } = make({ breakerFailureThreshold: 3 });
    await fail(breaker, 2);
    await breaker.fire(up);
    await fail(breaker, 2);
    expect(breaker.state).toBe('closed');
    const timeout = () =>
      Promise.reject(Object.assign(new Error('slow'), { name: 'TimeoutError' }));
    await breaker.fire(timeout).catch(() => undefined);
    expect(breaker.describe().failures).toBe(2);
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('applies a remote open for the remaining time only, and ignores stale transitions', () => {
    const { breaker, changes } = make({ breakerResetTimeoutMs: 60_000 });
    const now = Date.now();
    expect(
      breaker.applyRemote({
        kind: 'breaker',
        agentId: 'agent-1',
        state: 'open',
        at: now - 50_000,
        openUntil: now + 10_000,
        source: 'cp-other',
        failures: 5,
      }),
    ).toBe(true);
    expect(breaker.state).toBe('open');
    expect(changes[0]).toMatchObject({ remote: true, source: 'cp-other', failures: 5 });
    // Older than the open we just applied: ignored.
    expect(
      breaker.applyRemote({
        kind: 'breaker',
        agentId: 'agent-1',
        state: 'closed',
        at: now - 60_000,
        source: 'cp-other',
        failures: 0,
      }),
    ).toBe(false);
    jest.advanceTimersByTime(10_000);
    expect(breaker.state).toBe('half_open');
  });

  it('reset closes an open breaker (reason reset); on a closed one it returns the time to share', async () => {
    const { breaker, changes } = make({ breakerFailureThreshold: 1 });
    expect(breaker.reset()).toBe(Date.now());
    await fail(breaker, 1);
    expect(breaker.reset()).toBeUndefined();
    expect(breaker.state).toBe('closed');
    expect(changes.at(-1)).toMatchObject({ state: 'closed', reason: 'reset' });
  });
});
