import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Api,
  busyAgent,
  Cluster,
  CompletionWatch,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
  processAlive,
  type Proc,
  readJsonLines,
  sleep,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.
jest.setTimeout(120_000);

const TTL_SECONDS = 2;
const SECONDS = 4;

interface LogLine {
  event: 'start' | 'end';
  pid: number;
  childPid?: number;
  attempt: number;
}

/**
 * A worker killed with SIGKILL while a `command` agent (and the grandchild it started) runs:
 * the agent's process group dies with the worker (the group watcher), so the killed attempt never
 * reaches its side effect; the task is re-run on the other worker and completes once, with the
 * new attempt's answer.
 */
describe('agent processes die with their worker (e2e, real processes)', () => {
  const cluster = new Cluster('diewith', {
    ORCHESTRATOR_LIVENESS_CHECK_MS: '250',
    WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS),
  });
  let cp: ControlPlane;
  let api: Api;
  let workers: Map<string, Proc>;
  let watch: CompletionWatch | undefined;
  let dir: string;

  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sy-diewith-'));
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    const ttl = { WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS) };
    workers = await cluster.startWorkers(
      ['wa', 'wb'],
      join(E2E_AGENTS, 'crash'),
      'side-effect',
      api,
      ttl,
    );
    watch = await CompletionWatch.open(cp.url);
  });

  afterAll(async () => {
    watch?.close();
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (file: string) => readJsonLines<LogLine>(file);

  it('SIGKILL of the worker kills the agent and its grandchild at once; the task re-runs elsewhere and completes once', async () => {
    const logFile = join(dir, 'side-effect.log');
    const task = await api.submit('/v1/tasks', {
      capability: 'side-effect',
      payload: { logFile, seconds: SECONDS },
      timeoutMs: 60_000,
      retry: { maxRetries: 0 },
    });

    const first = await cluster.waitFor(
      async () => lines(logFile).find((l) => l.event === 'start'),
      20_000,
      `task ${task.id} started its agent process`,
      50,
    );
    const runningOn = await cluster.waitFor(
      () => busyAgent(api, 'side-effect'),
      20_000,
      'the side-effect agent carrying the load',
      100,
    );
    const victim = workers.get(runningOn)!;
    const survivor = [...workers.keys()].find((id) => id !== runningOn)!;
    expect(processAlive(first.pid)).toBe(true);
    expect(processAlive(first.childPid!)).toBe(true);

    await victim.kill9();
    const killedAt = Date.now();
    // Both gone within ~1 s of the kill (the watcher reacts in milliseconds; a loaded machine).
    await cluster.waitFor(
      async () => !processAlive(first.pid) && !processAlive(first.childPid!),
      1500,
      `agent ${first.pid} and grandchild ${first.childPid} gone after the worker's SIGKILL`,
      20,
    );
    const goneAfterMs = Date.now() - killedAt;
    expect(goneAfterMs).toBeLessThan(1500);

    const done = await cluster.waitForTaskEnd(
      api,
      task.id,
      60_000,
      `task ${task.id} to finish after ${runningOn} was killed`,
    );
    // Re-run on the survivor; the infra loss spent no retry (maxRetries 0 and still completed).
    expect(done).toMatchObject({ status: 'COMPLETED', agentId: survivor });
    const log = lines(logFile);
    const starts = log.filter((l) => l.event === 'start');
    const ends = log.filter((l) => l.event === 'end');
    expect(starts).toHaveLength(2);
    // The killed attempt never reached its side effect: one "end", from the second execution.
    expect(ends).toHaveLength(1);
    expect(ends[0].pid).toBe(starts[1].pid);
    expect(ends[0].attempt).toBeGreaterThan(first.attempt);
    // Fencing by attempt: the stored answer is the new attempt's, the task's current attempt.
    expect(done.result).toEqual({ pid: starts[1].pid, attempt: ends[0].attempt });
    expect(done.attempt).toBe(ends[0].attempt);

    await sleep(1000);
    expect(watch!.dropped()).toBe(0);
    expect(watch!.counts().get(task.id)).toBe(1);
  });
});
