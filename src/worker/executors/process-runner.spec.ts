import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess, startGroupWatcher } from './process-runner';

/** Whether `pid` is a live (not zombie) process. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (pids.some(alive)) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`still alive: ${pids.filter(alive).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 250; i++) {
    try {
      const text = readFileSync(path, 'utf8');
      if (text.endsWith('\n')) return text;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${path} never written`);
}

describe('process group watcher (real processes)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-watcher-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('kills the whole group (child and grandchild) once the worker end of its pipe closes', async () => {
    const pidFile = join(dir, 'pids');
    // A group leader with a background grandchild, like an agent that starts helpers.
    const leader = spawn('sh', ['-c', `sleep 30 & echo "$$ $!" > ${pidFile}; wait`], {
      detached: true,
      stdio: 'ignore',
    });
    const [pid, grandchild] = (await waitForFile(pidFile)).trim().split(' ').map(Number);
    expect(pid).toBe(leader.pid);
    const watcher = startGroupWatcher(leader.pid!)!;
    expect(watcher).toBeDefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid) && alive(grandchild)).toBe(true);

    // What the kernel does when the worker dies, whatever killed it: its end of the pipe closes.
    watcher.stdin!.destroy();
    const tookMs = await waitGone([pid, grandchild], 2000);
    expect(tookMs).toBeLessThan(1000);
  });

  it('is stopped on a normal finish without signalling the group again', async () => {
    const controller = new AbortController();
    const run = await runProcess({
      argv: ['sh', '-c', 'echo ok'],
      env: { PATH: process.env.PATH },
      signal: controller.signal,
      killGraceMs: 100,
      maxStdoutBytes: 1000,
      maxStderrBytes: 1000,
    });
    expect(run).toMatchObject({ exitCode: 0, stdout: 'ok\n', aborted: false });
    // No watcher left behind for this run: no `sh -c read…` process carries its group id.
    await new Promise((r) => setTimeout(r, 100));
    expect(listWatchersOf(run.pid!)).toEqual([]);
  });
});

/** Live group watchers started for process group `pgid` (by their argv). */
function listWatchersOf(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('switchyard-group-watcher') && argv.includes(String(pgid))) {
        if (alive(Number(entry))) found.push(Number(entry));
      }
    } catch {
      /* gone */
    }
  }
  return found;
}
