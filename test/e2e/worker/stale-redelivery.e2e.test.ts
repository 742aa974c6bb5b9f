import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Api,
  Cluster,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
  freePort,
  type Proc,
  readJsonLines,
  sleep,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.
jest.setTimeout(150_000);

const TTL_SECONDS = 2;

interface LogLine {
  event: 'start' | 'end';
  pid: number;
  attempt: number;
}

/**
 * Issue 11: a worker killed with an unacked task message gets it back from RabbitMQ when it
 * restarts (same WORKER_ID, same agent queue, `redelivered` set). By then the control plane has
 * failed that attempt as lost and attempt 1 runs on the other worker: the old message must be
 * acked and dropped (a log line, `worker_stale_deliveries_total`), never run — before the fix the
 * agent executed attempt 0 a second time (the chaos run's executed_ok_twice).
 */
describe('a stale redelivered task message does not run the agent (e2e, real RabbitMQ)', () => {
  const cluster = new Cluster('stale', {
    ORCHESTRATOR_LIVENESS_CHECK_MS: '250',
    WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS),
    // Long enough that the requeued message is still there when wa is back (workers take a
    // while to start on a loaded machine); past it, it would be dead-lettered instead.
    BUS_TASK_TTL_MS: '600000',
    BUS_AGENT_QUEUE_EXPIRES_MS: '900000',
  });
  let cp: ControlPlane;
  let api: Api;
  let dir: string;
  const agents = join(E2E_AGENTS, 'crash');
  const ttl = { WORKER_AGENT_TTL_SECONDS: String(TTL_SECONDS) };

  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sy-stale-'));
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
  });

  afterAll(async () => {
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (file: string) => readJsonLines<LogLine>(file);

  it('a message for attempt 0 redelivered after attempt 1 started is acked and dropped', async () => {
    const logFile = join(dir, 'side-effect.log');
    // Only wa exists when the task is submitted: attempt 0 runs there.
    const wa: Proc = await cluster.startWorker('wa', agents, ['side-effect'], api, ttl);
    const task = await api.submit('/v1/tasks', {
      capability: 'side-effect',
      payload: { logFile, seconds: 60 },
      timeoutMs: 120_000,
      retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 200 },
    });
    await cluster.waitFor(
      async () => lines(logFile).find((l) => l.event === 'start' && l.attempt === 0),
      30_000,
      `task ${task.id} attempt 0 started on wa`,
      50,
    );
    // A second worker for attempt 1; then wa dies with attempt 0's message unacked.
    await cluster.startWorker('wb', agents, ['side-effect'], api, ttl);
    await wa.kill9();
    await cluster.waitFor(
      async () => lines(logFile).find((l) => l.event === 'start' && l.attempt === 1),
      30_000,
      `task ${task.id} attempt 1 started on wb after wa was killed`,
      100,
    );
    const running = (await api.get(`/v1/tasks/${task.id}`)).body;
    expect(running).toMatchObject({ status: 'RUNNING', attempt: 1, agentId: 'side-effect@wb' });

    // wa comes back under the same id: RabbitMQ redelivers attempt 0's message to it.
    const port = await freePort();
    const again = await cluster.startWorker('wa', agents, ['side-effect'], api, {
      ...ttl,
      WORKER_HTTP_PORT: String(port),
      LOG_LEVEL: 'info',
    });
    const metric = async (): Promise<number> => {
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const line = text
          .split('\n')
          .find((l) => l.startsWith('worker_stale_deliveries_total{agent="side-effect"}'));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
      } catch {
        return 0;
      }
    };
    // Either the drop is counted or (the bug) attempt 0 starts a second time.
    const attempt0 = () => lines(logFile).filter((l) => l.event === 'start' && l.attempt === 0);
    await cluster.waitFor(
      async () => (await metric()) === 1 || attempt0().length > 1,
      30_000,
      'the restarted wa to drop (or run) the redelivered attempt-0 message',
      200,
    );
    await sleep(1500); // room for a (wrong) second start of attempt 0 to show in the log
    const starts = lines(logFile).filter((l) => l.event === 'start');
    expect(starts.map((l) => l.attempt)).toEqual([0, 1]);
    expect(await metric()).toBe(1);
    expect(again.stdout + again.stderr).toMatch(
      new RegExp(`dropped a stale redelivered message for task ${task.id} attempt 0`),
    );
    // The task is untouched: still attempt 1 on wb.
    expect((await api.get(`/v1/tasks/${task.id}`)).body).toMatchObject({
      status: 'RUNNING',
      attempt: 1,
      agentId: 'side-effect@wb',
    });
    await api.post(`/v1/tasks/${task.id}/cancel`);
  });
});
