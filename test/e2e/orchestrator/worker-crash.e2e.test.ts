import { join } from 'node:path';
import {
  Api,
  busyAgent,
  Cluster,
  CompletionWatch,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
  isTerminal,
  type Proc,
  sleep,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.
jest.setTimeout(120_000);

const TTL_SECONDS = 2;
const SLEEP_MS = 4000;

/**
 * A worker killed with SIGKILL mid-task: once its agents' heartbeat TTL runs out the control
 * plane's liveness check fails the attempt (retryable agent_lost), the task is re-dispatched to
 * another worker within 5 s of the loss being detectable, and it completes once.
 */
describe('a worker killed with SIGKILL mid-task (e2e, real processes)', () => {
  const cluster = new Cluster('wcrash', {
    ORCHESTRATOR_LIVENESS_CHECK_MS: '250',
    WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS),
  });
  let cp: ControlPlane;
  let api: Api;
  let workers: Map<string, Proc>;
  let watch: CompletionWatch | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    const ttl = { WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS) };
    workers = await cluster.startWorkers(
      ['wa', 'wb'],
      join(E2E_AGENTS, 'sleeper'),
      'sleeper',
      api,
      ttl,
    );
    watch = await CompletionWatch.open(cp.url);
  });

  afterAll(async () => {
    watch?.close();
    await cluster.destroy();
  });

  it('re-dispatches the task to the other worker within 5 s of the TTL expiring, and completes it once', async () => {
    const task = await api.submit('/v1/tasks', {
      capability: 'sleep',
      payload: { ms: SLEEP_MS },
      timeoutMs: 60_000,
      retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 200 },
    });

    // Which worker runs it: the one whose sleeper agent carries the load.
    const runningOn = await cluster.waitFor(
      async () => {
        const t = await api.get(`/v1/tasks/${task.id}`);
        return t.body.status === 'RUNNING' ? busyAgent(api, 'sleeper') : undefined;
      },
      20_000,
      `task ${task.id} running on one sleeper`,
      100,
    );
    const victim = workers.get(runningOn)!;
    const survivor = [...workers.keys()].find((id) => id !== runningOn)!;

    // Let it get well into its sleep, then crash its worker.
    await sleep(500);
    expect((await api.get(`/v1/tasks/${task.id}`)).body.status).toBe('RUNNING');
    await victim.kill9();
    const killedAt = Date.now();
    // The loss is detectable once the agent's heartbeat TTL has run out: at the latest this.
    const detectableBy = killedAt + TTL_SECONDS * 1000;

    const done = await cluster.waitForTaskEnd(
      api,
      task.id,
      60_000,
      `task ${task.id} to finish after ${runningOn} was killed`,
    );
    expect(done).toMatchObject({
      status: 'COMPLETED',
      agentId: survivor,
      attempt: 1, // the killed attempt counted once, the second one completed
      result: { sleptMs: SLEEP_MS },
    });
    const redispatchedAt = Date.parse(done.startedAt);
    expect(redispatchedAt).toBeGreaterThan(killedAt);
    expect(redispatchedAt - detectableBy).toBeLessThan(5000);
    // The surviving worker ran the whole sleep: this is a fresh run, not a stale reply.
    expect(Date.parse(done.completedAt) - redispatchedAt).toBeGreaterThanOrEqual(SLEEP_MS - 50);

    // Completed exactly once (live feed across instances, and this instance's counter).
    await sleep(1000);
    expect(watch!.dropped()).toBe(0);
    expect(watch!.counts().get(task.id)).toBe(1);
    expect(await api.tasksTotal('COMPLETED')).toBe(1);
    // The crashed agent is gone from the registry; the survivor is still there.
    const ids = (await api.agents()).map((a) => a.id);
    expect(ids).toContain(survivor);
    expect(ids).not.toContain(runningOn);
  });
  it('re-dispatches every task of a killed worker with several in flight; the others are untouched', async () => {
    const dir = join(E2E_AGENTS, 'sleeper');
    const c = await cluster.startWorker('wc', dir, ['sleeper'], api, {
      WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS),
    });
    const completedBefore = await api.tasksTotal('COMPLETED');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const t = await api.submit('/v1/tasks', {
        capability: 'sleep',
        payload: { ms: SLEEP_MS },
        timeoutMs: 60_000,
        retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 200 },
      });
      ids.push(t.id);
    }
    // All six running, spread over wb and wc (least loaded first).
    const loads = await cluster.waitFor(
      async () => {
        const all = await Promise.all(
          ids.map(async (id) => (await api.get(`/v1/tasks/${id}`)).body),
        );
        if (!all.every((t) => t.status === 'RUNNING')) return undefined;
        const byAgent = new Map(
          (await api.agents())
            .filter((a) => a.id.startsWith('sleeper@'))
            .map((a) => [a.id, a.load]),
        );
        const onB = byAgent.get('sleeper@wb') ?? 0;
        const onC = byAgent.get('sleeper@wc') ?? 0;
        return onB + onC === ids.length ? { onB, onC } : undefined;
      },
      20_000,
      'six tasks running on sleeper@wb and sleeper@wc',
      100,
    );
    expect(loads.onC).toBeGreaterThanOrEqual(1);
    expect(loads.onB).toBeGreaterThanOrEqual(1);

    await sleep(500);
    await c.kill9();
    const killedAt = Date.now();
    const detectableBy = killedAt + TTL_SECONDS * 1000;

    const done = await cluster.waitFor(
      async () => {
        const all = await Promise.all(
          ids.map(async (id) => (await api.get(`/v1/tasks/${id}`)).body),
        );
        return all.every((t) => isTerminal(t.status)) ? all : undefined;
      },
      60_000,
      'the six tasks to finish after wc was killed',
      250,
    );
    for (const t of done) {
      expect({ status: t.status, agentId: t.agentId, result: t.result }).toEqual({
        status: 'COMPLETED',
        agentId: 'sleeper@wb',
        result: { sleptMs: SLEEP_MS },
      });
    }
    // wc's tasks: one lost attempt, re-dispatched within 5 s of the loss being detectable.
    const moved = done.filter((t) => t.attempt === 1);
    expect(moved).toHaveLength(loads.onC);
    for (const t of moved) {
      expect(Date.parse(t.startedAt)).toBeGreaterThan(killedAt);
      expect(Date.parse(t.startedAt) - detectableBy).toBeLessThan(5000);
    }
    // wb's own tasks ran once, undisturbed.
    const stayed = done.filter((t) => t.attempt === 0);
    expect(stayed).toHaveLength(loads.onB);
    for (const t of stayed) expect(Date.parse(t.startedAt)).toBeLessThan(killedAt);

    await sleep(1000);
    expect(watch!.dropped()).toBe(0);
    const counts = watch!.counts();
    for (const id of ids) expect([id, counts.get(id)]).toEqual([id, 1]);
    expect((await api.tasksTotal('COMPLETED')) - completedBefore).toBe(ids.length);
  });
});
