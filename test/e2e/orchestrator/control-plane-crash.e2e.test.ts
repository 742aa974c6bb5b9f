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
jest.setTimeout(150_000);

const SLEEP_MS = 6000;

/** `dispatch_latency_seconds_count{capability}`: tasks this instance started (first runs). */
async function startedBy(api: Api, capability: string): Promise<number> {
  const r = await api.get<string>('/metrics');
  const line = String(r.body)
    .split('\n')
    .find(
      (l) =>
        l.startsWith('dispatch_latency_seconds_count{') && l.includes(`capability="${capability}"`),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/**
 * A control-plane instance killed with SIGKILL while tasks it dispatched are in flight: the other
 * instance's BullMQ stalled-job check takes them over (same attempt, run again) and every task
 * completes exactly once.
 */
describe('a control plane killed with SIGKILL with tasks in flight (e2e, real processes)', () => {
  const cluster = new Cluster('cpcrash', {
    // Fast stalled-job recovery: a dead instance's job lock lapses after 2 s, checked every 1 s.
    QUEUE_LOCK_DURATION_MS: '2000',
    QUEUE_STALLED_INTERVAL_MS: '1000',
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
    const dir = join(E2E_AGENTS, 'sleeper');
    await Promise.all([
      cluster.startWorker('w1', dir, ['sleeper'], api1),
      cluster.startWorker('w2', dir, ['sleeper'], api1),
    ]);
    watch = await CompletionWatch.open(cp2.url);
  });

  afterAll(async () => {
    watch?.close();
    await cluster.destroy();
  });

  it('completes every in-flight task via the surviving instance, each exactly once', async () => {
    // Submit to cp1 in small batches until cp1 itself has started a few of them (both instances
    // pull from the same queue; which one takes a task is up to BullMQ).
    const ids: string[] = [];
    for (let batch = 0; batch < 4; batch++) {
      for (let i = 0; i < 5; i++) {
        const t = await api1.submit('/v1/tasks', {
          capability: 'sleep',
          payload: { ms: SLEEP_MS },
          timeoutMs: 90_000,
        });
        ids.push(t.id);
      }
      await cluster.waitFor(
        async () => {
          const all = await Promise.all(
            ids.map(async (id) => (await api2.get(`/v1/tasks/${id}`)).body),
          );
          return all.every((t) => t.status === 'RUNNING');
        },
        20_000,
        'the tasks to be RUNNING',
        100,
      );
      if ((await startedBy(api1, 'sleep')) >= 3) break;
    }
    // Every task reached an agent (the sleepers' load covers them all).
    await cluster.waitFor(
      async () => {
        const load = (await api2.agents())
          .filter((a) => a.id.startsWith('sleeper@'))
          .reduce((n, a) => n + a.load, 0);
        return load >= ids.length;
      },
      10_000,
      `${ids.length} tasks to be running on agents`,
      100,
    );
    const byCp1 = await startedBy(api1, 'sleep');
    const byCp2 = await startedBy(api2, 'sleep');
    expect(byCp1).toBeGreaterThanOrEqual(1);
    expect(byCp1 + byCp2).toBe(ids.length);

    await cp1.kill9();
    const killedAt = Date.now();

    const done = await cluster.waitFor(
      async () => {
        const all = await Promise.all(
          ids.map(async (id) => (await api2.get(`/v1/tasks/${id}`)).body),
        );
        return all.every((t) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(t.status))
          ? all
          : undefined;
      },
      90_000,
      `${ids.length} tasks to finish after cp1 was killed`,
      300,
      (last) => JSON.stringify(last),
    );
    for (const t of done) {
      expect({ id: t.id, status: t.status, attempt: t.attempt }).toEqual({
        id: t.id,
        status: 'COMPLETED',
        attempt: 0, // a crashed dispatcher is not a failed attempt
      });
      expect(t.result).toEqual({ sleptMs: SLEEP_MS });
    }
    // The tasks cp1 had started were re-run once by cp2's stalled-job recovery (runs 2), after
    // the kill; cp2's own ran once.
    const rerun = done.filter((t) => t.runs === 2);
    expect(rerun).toHaveLength(byCp1);
    expect(done.filter((t) => t.runs === 1)).toHaveLength(byCp2);
    for (const t of rerun) expect(Date.parse(t.startedAt)).toBeGreaterThan(killedAt);

    // Exactly once: one task.completed each (the feed of cp2 carries every instance's events),
    // and cp2 completed all of them (cp1 died before any finished).
    await sleep(1000);
    expect(watch!.dropped()).toBe(0);
    const counts = watch!.counts();
    for (const id of ids) expect([id, counts.get(id)]).toEqual([id, 1]);
    expect(await api2.tasksTotal('COMPLETED')).toBe(ids.length);
  });
});
