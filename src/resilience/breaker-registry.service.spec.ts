import { Logger } from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { type Env, loadConfig } from '../config/load-config';
import { EventsService } from '../events/events.service';
import type { SwitchyardEvent } from '../events/switchyard-event.type';
import { MetricsService } from '../observability/metrics.service';
import { BreakerOpenError } from './breaker-open.error';
import { LocalBreakerPeers } from './breaker-peers';
import { BreakerRegistry } from './breaker-registry.service';
import type { BreakerErrorClassifier } from './error-classifier';

class AgentError extends Error {
  constructor(message = 'agent failed') {
    super(message);
    this.name = 'AgentError';
  }
}
class TimeoutError extends Error {
  constructor() {
    super('timed out');
    this.name = 'TimeoutError';
  }
}

const ok = () => Promise.resolve('ok');
const boom = () => Promise.reject(new AgentError());
const slowTimeout = () => Promise.reject(new TimeoutError());

interface Harness {
  registry: BreakerRegistry;
  events: SwitchyardEvent[];
  metrics: MetricsService;
}

function makeRegistry(env: Env = {}, extra: { classifier?: BreakerErrorClassifier } = {}): Harness {
  const config = new ConfigService(loadConfig({ SWITCHYARD_ADMIN_TOKEN: 'x'.repeat(24), ...env }));
  const eventsService = new EventsService();
  const events: SwitchyardEvent[] = [];
  eventsService.subscribe((e) => events.push(e));
  const metrics = new MetricsService();
  // Sharing between instances is BreakerSync's (test/integration/resilience/breaker-sharing.*).
  const registry = new BreakerRegistry(
    config,
    eventsService,
    metrics,
    new LocalBreakerPeers(),
    extra.classifier,
  );
  return { registry, events, metrics };
}

async function failTimes(registry: BreakerRegistry, agentId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await expect(registry.fire(agentId, boom)).rejects.toThrow(AgentError);
}

async function gauge(metrics: MetricsService, agent: string): Promise<number | undefined> {
  const m = await metrics.circuitBreakerState.get();
  return m.values.find((v) => v.labels.agent === agent)?.value;
}

describe('BreakerRegistry', () => {
  let h: Harness;
  let logged: { level: string; entry: unknown }[];

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    logged = [];
    // Collect log lines instead of printing them (the logger is not what is tested here).
    for (const level of ['log', 'warn'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
        logged.push({ level, entry: args[0] });
      });
    }
    h = makeRegistry();
  });

  afterEach(async () => {
    await h.registry.onModuleDestroy();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  it('logs every transition with the agent id', async () => {
    await failTimes(h.registry, 'a1', 5);
    jest.advanceTimersByTime(60_000);
    await h.registry.fire('a1', ok);
    expect(logged).toEqual([
      {
        level: 'warn',
        entry: expect.objectContaining({
          agent_id: 'a1',
          state: 'open',
          previous: 'closed',
          failures: 5,
        }),
      },
      {
        level: 'log',
        entry: expect.objectContaining({ agent_id: 'a1', state: 'half_open', reason: 'timer' }),
      },
      {
        level: 'log',
        entry: expect.objectContaining({
          agent_id: 'a1',
          state: 'closed',
          reason: 'trial_succeeded',
        }),
      },
    ]);
  });

  it('passes results through and keeps the breaker closed on success', async () => {
    await expect(h.registry.fire('a1', ok)).resolves.toBe('ok');
    expect(h.registry.state('a1')).toBe('closed');
    expect(h.registry.snapshot('a1')).toMatchObject({ successes: 1, tracked: true });
  });

  it('opens after 5 failures, not 4, and then refuses calls without running them', async () => {
    await failTimes(h.registry, 'a1', 4);
    expect(h.registry.state('a1')).toBe('closed');
    expect(h.registry.snapshot('a1').failures).toBe(4);
    await failTimes(h.registry, 'a1', 1);
    expect(h.registry.state('a1')).toBe('open');
    expect(h.registry.isOpen('a1')).toBe(true);
    expect(h.registry.canDispatch('a1')).toBe(false);

    const fn = jest.fn(ok);
    await expect(h.registry.fire('a1', fn)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(fn).not.toHaveBeenCalled();
    expect(h.registry.snapshot('a1')).toMatchObject({ rejections: 1, totalFailures: 5 });

    const opened = h.events.filter((e) => e.type === 'breaker.opened');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({
      agentId: 'a1',
      source: h.registry.instanceId,
      data: { failures: 5, source: h.registry.instanceId, reason: 'failures' },
    });
    expect(await gauge(h.metrics, 'a1')).toBe(2);
  });

  it('opens only after failures in a row: a success resets the count', async () => {
    await failTimes(h.registry, 'a1', 4);
    await h.registry.fire('a1', ok);
    await failTimes(h.registry, 'a1', 4);
    expect(h.registry.state('a1')).toBe('closed');
    await failTimes(h.registry, 'a1', 1);
    expect(h.registry.state('a1')).toBe('open');
  });

  it('opens after a configured threshold', async () => {
    await h.registry.onModuleDestroy();
    h = makeRegistry({ BREAKER_FAILURE_THRESHOLD: '2' });
    await failTimes(h.registry, 'a1', 2);
    expect(h.registry.state('a1')).toBe('open');
  });

  it('forgets failures older than the rolling window', async () => {
    await h.registry.onModuleDestroy();
    h = makeRegistry({ BREAKER_ROLLING_WINDOW_MS: '10000' });
    await failTimes(h.registry, 'a1', 4);
    jest.advanceTimersByTime(10_001);
    await failTimes(h.registry, 'a1', 4);
    expect(h.registry.state('a1')).toBe('closed');
    await failTimes(h.registry, 'a1', 1);
    expect(h.registry.state('a1')).toBe('open');
  });

  it('stays open for 60 s, then goes half-open', async () => {
    await failTimes(h.registry, 'a1', 5);
    const snap = h.registry.snapshot('a1');
    expect(snap.openedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(snap.nextAttemptAt).toBe('2026-01-01T00:01:00.000Z');

    jest.advanceTimersByTime(59_999);
    expect(h.registry.state('a1')).toBe('open');
    await expect(h.registry.fire('a1', ok)).rejects.toBeInstanceOf(BreakerOpenError);

    jest.advanceTimersByTime(1);
    expect(h.registry.state('a1')).toBe('half_open');
    expect(h.registry.canDispatch('a1')).toBe(true);
    expect(h.events.map((e) => e.type)).toEqual(['breaker.opened', 'breaker.half_open']);
    expect(await gauge(h.metrics, 'a1')).toBe(1);
  });

  it('lets exactly one trial through while half-open; a success closes it', async () => {
    await failTimes(h.registry, 'a1', 5);
    jest.advanceTimersByTime(60_000);

    let finish!: (v: string) => void;
    const trial = h.registry.fire('a1', () => new Promise<string>((r) => (finish = r)));
    expect(h.registry.canDispatch('a1')).toBe(false);
    const second = jest.fn(ok);
    const refused = await h.registry.fire('a1', second).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BreakerOpenError);
    expect((refused as BreakerOpenError).state).toBe('half_open');
    expect(second).not.toHaveBeenCalled();

    finish('done');
    await expect(trial).resolves.toBe('done');
    expect(h.registry.state('a1')).toBe('closed');
    expect(h.registry.snapshot('a1')).toMatchObject({ failures: 0, openedAt: null });
    const closed = h.events.find((e) => e.type === 'breaker.closed');
    expect(closed?.data).toMatchObject({ reason: 'trial_succeeded' });
    expect(await gauge(h.metrics, 'a1')).toBe(0);
  });

  it('re-opens for another 60 s when the trial fails', async () => {
    await failTimes(h.registry, 'a1', 5);
    jest.advanceTimersByTime(60_000);
    await failTimes(h.registry, 'a1', 1);
    expect(h.registry.state('a1')).toBe('open');
    expect(h.registry.snapshot('a1').nextAttemptAt).toBe('2026-01-01T00:02:00.000Z');
    jest.advanceTimersByTime(59_999);
    expect(h.registry.state('a1')).toBe('open');
    jest.advanceTimersByTime(1);
    expect(h.registry.state('a1')).toBe('half_open');
    const reopened = h.events.filter((e) => e.type === 'breaker.opened');
    expect(reopened[1]?.data).toMatchObject({ reason: 'trial_failed' });
  });

  it('does not count timeouts (seed), nor let them reset the count', async () => {
    for (let i = 0; i < 10; i++) {
      await expect(h.registry.fire('a1', slowTimeout)).rejects.toBeInstanceOf(TimeoutError);
    }
    expect(h.registry.state('a1')).toBe('closed');
    expect(h.registry.snapshot('a1')).toMatchObject({ failures: 0, totalFailures: 0 });

    await failTimes(h.registry, 'a1', 4);
    await expect(h.registry.fire('a1', slowTimeout)).rejects.toBeInstanceOf(TimeoutError);
    expect(h.registry.snapshot('a1').failures).toBe(4);
    await failTimes(h.registry, 'a1', 1);
    expect(h.registry.state('a1')).toBe('open');
  });

  it('counts timeouts when BREAKER_COUNT_TIMEOUTS=true', async () => {
    await h.registry.onModuleDestroy();
    h = makeRegistry({ BREAKER_COUNT_TIMEOUTS: 'true' });
    for (let i = 0; i < 5; i++) {
      await expect(h.registry.fire('a1', slowTimeout)).rejects.toBeInstanceOf(TimeoutError);
    }
    expect(h.registry.state('a1')).toBe('open');
  });

  it('excludes the error names and codes listed in BREAKER_EXCLUDED_ERRORS', async () => {
    await h.registry.onModuleDestroy();
    h = makeRegistry({ BREAKER_EXCLUDED_ERRORS: 'AgentError,EBUSY' });
    await failTimes(h.registry, 'a1', 6);
    const busy = Object.assign(new Error('busy'), { code: 'EBUSY' });
    for (let i = 0; i < 6; i++) {
      await expect(h.registry.fire('a1', () => Promise.reject(busy))).rejects.toBe(busy);
    }
    expect(h.registry.state('a1')).toBe('closed');
  });

  it('uses an injected classifier', async () => {
    await h.registry.onModuleDestroy();
    h = makeRegistry({}, { classifier: (e) => (e as Error).message === 'counts' });
    await failTimes(h.registry, 'a1', 6);
    expect(h.registry.state('a1')).toBe('closed');
    for (let i = 0; i < 5; i++) {
      await expect(
        h.registry.fire('a1', () => Promise.reject(new AgentError('counts'))),
      ).rejects.toThrow('counts');
    }
    expect(h.registry.state('a1')).toBe('open');
  });

  it('re-opens when the half-open trial times out, without counting it as a failure', async () => {
    await failTimes(h.registry, 'a1', 5);
    jest.advanceTimersByTime(60_000);
    await expect(h.registry.fire('a1', slowTimeout)).rejects.toBeInstanceOf(TimeoutError);
    expect(h.registry.state('a1')).toBe('open');
    expect(h.registry.snapshot('a1').totalFailures).toBe(5);
  });

  it("times calls out with BREAKER_CALL_TIMEOUT_MS (opossum's ETIMEDOUT, not counted)", async () => {
    await h.registry.onModuleDestroy();
    h = makeRegistry({ BREAKER_CALL_TIMEOUT_MS: '1000' });
    for (let i = 0; i < 6; i++) {
      const call = h.registry.fire('a1', () => new Promise<never>(() => undefined));
      jest.advanceTimersByTime(1000);
      await expect(call).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    }
    expect(h.registry.state('a1')).toBe('closed');
  });

  it('resets: closes an open breaker, clears failures, emits breaker.closed', async () => {
    await failTimes(h.registry, 'a1', 5);
    const snap = h.registry.reset('a1');
    expect(snap).toMatchObject({ state: 'closed', failures: 0, nextAttemptAt: null });
    expect(h.registry.canDispatch('a1')).toBe(true);
    await expect(h.registry.fire('a1', ok)).resolves.toBe('ok');
    const closed = h.events.find((e) => e.type === 'breaker.closed');
    expect(closed?.data).toMatchObject({ reason: 'reset', source: h.registry.instanceId });
    // The old reset timer must not fire later.
    jest.advanceTimersByTime(120_000);
    expect(h.registry.state('a1')).toBe('closed');
  });

  it('reset of a closed breaker clears its failure count', async () => {
    await failTimes(h.registry, 'a1', 4);
    h.registry.reset('a1');
    await failTimes(h.registry, 'a1', 4);
    expect(h.registry.state('a1')).toBe('closed');
  });

  it('gives BreakerOpenError a stable shape', async () => {
    await failTimes(h.registry, 'a1', 5);
    jest.advanceTimersByTime(15_000);
    const err = (await h.registry.fire('a1', ok).catch((e: unknown) => e)) as BreakerOpenError;
    expect(err).toBeInstanceOf(Error);
    expect(BreakerOpenError.is(err)).toBe(true);
    expect(err).toMatchObject({
      name: 'BreakerOpenError',
      code: 'EOPENBREAKER',
      agentId: 'a1',
      state: 'open',
      countsAsTaskFailure: false,
      nextAttemptAt: '2026-01-01T00:01:00.000Z',
    });
    expect(err.retryAfterMs).toBe(45_000);
    expect(err.message).toContain("'a1' is open");
  });

  it('keeps one breaker per agent', async () => {
    await failTimes(h.registry, 'a1', 5);
    expect(h.registry.breakerFor('a1')).toBe(h.registry.breakerFor('a1'));
    expect(h.registry.breakerFor('a1')).not.toBe(h.registry.breakerFor('a2'));
    expect(h.registry.state('a2')).toBe('closed');
    expect(h.registry.canDispatch('a3')).toBe(true);
    expect(h.registry.snapshot('nobody')).toMatchObject({ tracked: false, state: 'closed' });
    expect(h.registry.list().map((s) => [s.agentId, s.state])).toEqual([
      ['a1', 'open'],
      ['a2', 'closed'],
    ]);
  });

  describe('transitions from other instances', () => {
    it('applies a remote open with the remaining open time, without re-announcing it', async () => {
      const now = Date.now();
      const changed = h.registry.applyRemote({
        kind: 'breaker',
        agentId: 'a1',
        state: 'open',
        at: now - 50_000,
        openUntil: now + 10_000,
        source: 'other',
        failures: 5,
      });
      expect(changed).toBe(true);
      expect(h.registry.state('a1')).toBe('open');
      expect(h.registry.snapshot('a1').lastChangeSource).toBe('other');
      expect(h.events).toEqual([]);
      jest.advanceTimersByTime(9_999);
      expect(h.registry.state('a1')).toBe('open');
      jest.advanceTimersByTime(1);
      expect(h.registry.state('a1')).toBe('half_open');
      // The breaker's own reset timeout is untouched for later openings.
      await failTimes(h.registry, 'a1', 1);
      jest.advanceTimersByTime(59_999);
      expect(h.registry.state('a1')).toBe('open');
      jest.advanceTimersByTime(1);
      expect(h.registry.state('a1')).toBe('half_open');
    });

    it('closes on a remote close, ignores stale, expired and own transitions', async () => {
      await failTimes(h.registry, 'a1', 5);
      const now = Date.now();
      const base = { kind: 'breaker' as const, agentId: 'a1', failures: 0 };
      expect(h.registry.applyRemote({ ...base, state: 'closed', at: now - 1, source: 'b' })).toBe(
        false,
      );
      expect(
        h.registry.applyRemote({
          ...base,
          state: 'closed',
          at: now,
          source: h.registry.instanceId,
        }),
      ).toBe(false);
      expect(h.registry.state('a1')).toBe('open');
      expect(h.registry.applyRemote({ ...base, state: 'closed', at: now + 1, source: 'b' })).toBe(
        true,
      );
      expect(h.registry.state('a1')).toBe('closed');
      expect(
        h.registry.applyRemote({
          ...base,
          agentId: 'a2',
          state: 'open',
          at: now - 70_000,
          openUntil: now - 10_000,
          source: 'b',
        }),
      ).toBe(false);
      expect(h.registry.state('a2')).toBe('closed');
    });
  });
});
