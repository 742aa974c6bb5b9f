import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Api,
  Cluster,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
  type Proc,
  processAlive,
  sleep,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.

/** The pids the spawner agent script writes once it runs (itself and its grandchild). */
function agentPids(cluster: Cluster, pidFile: string): Promise<{ pid: number; childPid: number }> {
  return cluster.waitFor(
    async () => {
      if (!existsSync(pidFile)) return undefined;
      try {
        return JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; childPid: number };
      } catch {
        return undefined; // being written
      }
    },
    30_000,
    'the agent script to write its pids',
    100,
  );
}
jest.setTimeout(120_000);

/**
 * Cancelling a RUNNING task kills the `command` agent's process and its grandchild: nothing is
 * left in the process table, and the task ends CANCELLED.
 */
describe('cancelling a running command agent (e2e, real processes)', () => {
  const cluster = new Cluster('cancel');
  let cp: ControlPlane;
  let api: Api;
  let worker: Proc;
  let dir: string;
  const pids: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-e2e-cancel-'));
    await ensureBuilt();
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    worker = await cluster.startWorker('wc', join(E2E_AGENTS, 'cancel'), ['spawner'], api);
  });

  afterAll(async () => {
    // Safety net: never leave a `sleep 300` behind, whatever the assertions said.
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kills the agent process and its grandchild within 2 s and ends CANCELLED', async () => {
    const pidFile = join(dir, 'pids.json');
    const task = await api.submit('/v1/tasks', {
      capability: 'spawn-sleep',
      payload: { pidFile },
      timeoutMs: 120_000,
    });
    const { pid, childPid } = await agentPids(cluster, pidFile);
    pids.push(pid, childPid);
    expect(processAlive(pid)).toBe(true);
    expect(processAlive(childPid)).toBe(true);
    // The grandchild is in the agent process's group (the executor kills the group).
    const pgid = (p: number) => {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    };
    expect(pgid(childPid)).toBe(pgid(pid));
    expect((await api.get(`/v1/tasks/${task.id}`)).body.status).toBe('RUNNING');

    const cancelledAt = Date.now();
    const r = await api.post(`/v1/tasks/${task.id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('CANCELLED');

    await cluster.waitFor(
      async () => !processAlive(pid) && !processAlive(childPid),
      5000,
      `pids ${pid} and ${childPid} to be gone`,
      50,
    );
    const goneAfterMs = Date.now() - cancelledAt;
    expect(goneAfterMs).toBeLessThan(2000);

    // It stays CANCELLED (no late completion or retry), and the worker lives on, idle.
    await sleep(1000);
    const after = (await api.get(`/v1/tasks/${task.id}`)).body;
    expect(after.status).toBe('CANCELLED');
    expect(after.reason).toBe('user');
    expect(worker.alive).toBe(true);
    const agent = (await api.get('/v1/agents/spawner@wc')).body;
    expect(agent.load).toBe(0);
  });
});

/**
 * The cancel reaches the control plane that dispatched the task by its own path (Redis pub/sub
 * from the cancel script), not through the live feed: both instances run with LIVE_FANOUT=false.
 */
describe('cancelling through another control plane, live fan-out off (e2e)', () => {
  const cluster = new Cluster('xcancel');
  let dir: string;
  const pids: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-e2e-xcancel-'));
    await ensureBuilt();
  });
  afterAll(async () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a cancel on the API-only instance stops the task dispatched by the other', async () => {
    const dispatcher = await cluster.startControlPlane('cpa', { LIVE_FANOUT: 'false' });
    const apiOnly = await cluster.startControlPlane('cpb', {
      LIVE_FANOUT: 'false',
      ORCHESTRATOR_ENABLED: 'false',
    });
    const apiA = new Api(dispatcher.url);
    const apiB = new Api(apiOnly.url);
    await cluster.startWorker('wx', join(E2E_AGENTS, 'cancel'), ['spawner'], apiA);
    const pidFile = join(dir, 'pids.json');
    const task = await apiB.submit('/v1/tasks', {
      capability: 'spawn-sleep',
      payload: { pidFile },
      timeoutMs: 120_000,
    });
    const { pid, childPid } = await agentPids(cluster, pidFile);
    pids.push(pid, childPid);
    const r = await apiB.post(`/v1/tasks/${task.id}/cancel`);
    expect(r.status).toBe(200);
    await cluster.waitFor(
      async () => !processAlive(pid) && !processAlive(childPid),
      5000,
      `pids ${pid} and ${childPid} to be gone after a cancel on the other instance`,
      50,
    );
    expect((await apiA.get(`/v1/tasks/${task.id}`)).body.status).toBe('CANCELLED');
  });
});
