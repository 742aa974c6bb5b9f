import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentRuntime } from '../../../src/worker/agent-runtime';
import { agentDef, testExecutorOptions, waitFor } from '../../support/worker-fixtures';

/** Live (non-zombie) pids from the process table, as `ps` shows it. */
function livePids(): Set<number> {
  const out = execFileSync('ps', ['-eo', 'pid=,stat='], { encoding: 'utf8' });
  const pids = new Set<number>();
  for (const line of out.split('\n')) {
    const [pid, stat] = line.trim().split(/\s+/);
    if (pid && stat && !stat.startsWith('Z')) pids.add(Number(pid));
  }
  return pids;
}

describe('AgentRuntime with command agents (real processes)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-rt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sleeper = (pidFile: string) =>
    agentDef({
      name: 'sleeper',
      executor: 'command',
      command: ['sh', '-c', `sleep 1000 & echo "$$ $!" > ${pidFile}; wait`],
      maxConcurrency: 2,
    });
  const pidsIn = async (file: string) => {
    await waitFor(
      () => existsSync(file) && readFileSync(file, 'utf8').trim().split(' ').length === 2,
      5000,
    );
    return readFileSync(file, 'utf8').trim().split(' ').map(Number);
  };

  it('cancel(taskId) kills the running command agent and its children: nothing left in the process table', async () => {
    const pidFile = join(dir, 'pids');
    const runtime = new AgentRuntime([sleeper(pidFile)], {
      executorOptions: testExecutorOptions(),
    });
    const running = runtime.run('sleeper', {
      taskId: 'long',
      attempt: 0,
      capability: 'sleeper',
      payload: null,
    });
    const pids = await pidsIn(pidFile);
    expect(pids.every((p) => livePids().has(p))).toBe(true);
    expect(runtime.load('sleeper')).toBe(1);

    const at = Date.now();
    expect(runtime.cancel('long')).toBe(1);
    await expect(running).resolves.toMatchObject({ ok: false, error: { type: 'cancelled' } });
    expect(await waitFor(() => pids.every((p) => !livePids().has(p)), 1000)).toBe(true);
    expect(Date.now() - at).toBeLessThan(1000);
    expect(runtime.load('sleeper')).toBe(0);
  });

  it('drain hands back a command agent still running at the deadline and kills it', async () => {
    const pidFile = join(dir, 'pids');
    const runtime = new AgentRuntime([sleeper(pidFile)], {
      executorOptions: testExecutorOptions(),
    });
    const running = runtime.run('sleeper', {
      taskId: 'inflight',
      attempt: 3,
      capability: 'sleeper',
      payload: null,
    });
    const pids = await pidsIn(pidFile);
    const report = await runtime.drain(100);
    expect(report).toEqual({
      finished: [],
      handedBack: [{ agent: 'sleeper', taskId: 'inflight', attempt: 3 }],
    });
    await expect(running).resolves.toMatchObject({
      ok: false,
      error: { type: 'drained', retryable: true },
    });
    expect(await waitFor(() => pids.every((p) => !livePids().has(p)), 1000)).toBe(true);
  });
});
