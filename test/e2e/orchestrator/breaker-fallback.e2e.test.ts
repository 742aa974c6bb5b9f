import { join } from 'node:path';
import {
  Api,
  Cluster,
  CompletionWatch,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
  sleep,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.
jest.setTimeout(120_000);

const TASKS = 12;
const THRESHOLD = 3;

interface Breaker {
  agentId: string;
  state: string;
  failures: number;
  totalFailures: number;
  successes: number;
}

/**
 * Two agents share the capability `flaky-pool`: `broken` (a command exiting 1) and `steady`
 * (echo). Failures on broken open its breaker; the tasks are retried and all complete on the
 * fallback.
 */
describe('a failing agent opens its breaker; its tasks complete on the fallback (e2e)', () => {
  const cluster = new Cluster('breaker', {
    BREAKER_FAILURE_THRESHOLD: String(THRESHOLD),
    BREAKER_RESET_TIMEOUT_MS: '300000',
    BREAKER_SYNC_INTERVAL_MS: '500',
  });
  let cp1: ControlPlane;
  let cp2: ControlPlane;
  let api1: Api;
  let api2: Api;
  let watch: CompletionWatch | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    [cp1, cp2] = await Promise.all([
      cluster.startControlPlane('cp1'),
      cluster.startControlPlane('cp2'),
    ]);
    api1 = new Api(cp1.url);
    api2 = new Api(cp2.url);
    await cluster.startWorker('wf', join(E2E_AGENTS, 'flaky-pool'), ['broken', 'steady'], api1);
    watch = await CompletionWatch.open(cp2.url);
  });

  afterAll(async () => {
    watch?.close();
    await cluster.destroy();
  });

  it('completes every task on steady and leaves broken OPEN on every instance', async () => {
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const t = await api1.submit('/v1/tasks', {
        capability: 'flaky-pool',
        payload: { n: i },
        timeoutMs: 30_000,
        // exit_nonzero is not retryable by default; this task says it is worth another agent.
        retry: { maxRetries: 8, baseDelayMs: 50, maxDelayMs: 200, retryOn: ['exit_nonzero'] },
      });
      ids.push(t.id);
    }

    const done = await cluster.waitFor(
      async () => {
        const all = await Promise.all(
          ids.map(async (id) => (await api1.get(`/v1/tasks/${id}`)).body),
        );
        return all.every((t) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(t.status))
          ? all
          : undefined;
      },
      60_000,
      `${TASKS} flaky-pool tasks to finish`,
      300,
    );
    for (const [i, t] of done.entries()) {
      expect({ id: t.id, status: t.status, agentId: t.agentId, result: t.result }).toEqual({
        id: ids[i],
        status: 'COMPLETED',
        agentId: 'steady@wf',
        result: { n: i },
      });
    }
    // Ties in load go to the lower id (broken@wf), so broken takes tasks until its breaker opens:
    // some attempts did fail there first.
    const failedAttempts = done.reduce((n, t) => n + Number(t.attempt), 0);
    expect(failedAttempts).toBeGreaterThanOrEqual(THRESHOLD);

    // broken's breaker is OPEN — on the instance that dispatched and on the other one.
    for (const api of [api1, api2]) {
      const breakers = await cluster.waitFor(
        async () => {
          const r = await api.get('/v1/circuit-breakers');
          const items = r.body.items as Breaker[];
          return items.find((b) => b.agentId === 'broken@wf')?.state === 'open' ? items : undefined;
        },
        15_000,
        `broken@wf OPEN on ${api.url}`,
        250,
      );
      const broken = breakers.find((b) => b.agentId === 'broken@wf')!;
      expect(broken.failures).toBeGreaterThanOrEqual(THRESHOLD);
      const steady = breakers.find((b) => b.agentId === 'steady@wf');
      if (steady) expect(steady.state).toBe('closed');
    }
    const one = await api1.get('/v1/circuit-breakers/broken@wf');
    expect(one.body).toMatchObject({ agentId: 'broken@wf', state: 'open', threshold: THRESHOLD });

    // Every task completed exactly once.
    await sleep(500);
    expect(watch!.dropped()).toBe(0);
    const counts = watch!.counts();
    for (const id of ids) expect([id, counts.get(id)]).toEqual([id, 1]);
    const total = (await api1.tasksTotal('COMPLETED')) + (await api2.tasksTotal('COMPLETED'));
    expect(total).toBe(TASKS);
  });
});
