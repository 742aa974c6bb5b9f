import { join } from 'node:path';
import {
  Api,
  Cluster,
  CompletionWatch,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
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
  const workers = new Map<string, Proc>();
  let watch: CompletionWatch | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    const dir = join(E2E_AGENTS, 'sleeper');
    const ttl = { WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS) };
    const [a, b] = await Promise.all([
      cluster.startWorker('wa', dir, ['sleeper'], api, ttl),
      cluster.startWorker('wb', dir, ['sleeper'], api, ttl),
    ]);
    workers.set('sleeper@wa', a);
    workers.set('sleeper@wb', b);
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
        if (t.body.status !== 'RUNNING') return undefined;
        const busy = (await api.agents()).filter((a) => a.id.startsWith('sleeper@') && a.load > 0);
        return busy.length === 1 ? busy[0].id : undefined;
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

    const done = await cluster.waitFor(
      async () => {
        const r = await api.get(`/v1/tasks/${task.id}`);
        return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.body.status) ? r.body : undefined;
      },
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
});
