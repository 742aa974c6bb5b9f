import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken } from '../../src/auth/api-key.service';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import type { TaskHandlerOutcome, TaskRecord } from '../../src/queue/task.types';
import { deletePrefix } from '../support/redis-cleanup';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../support/test-app';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'switchyard.js');
const VIEWER_TOKEN = 'cli-viewer-token-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI (`npm run build` first) as a child process; never blocks this process. */
function cli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

// Each CLI run is a fresh Node process; on a busy 2-core machine a test with several runs is slow.
jest.setTimeout(120_000);

describe('switchyard CLI against a live server (e2e)', () => {
  let t: TestApp;
  let url: string;
  let env: Record<string, string>;
  let dir: string;
  const file = (name: string, body: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
    return p;
  };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
      throw new Error('the CLI is not built: run `npx tsc -p tsconfig.build.json` (npm test does)');
    }
    t = await startTestApp({
      // The test runs tasks itself (below) instead of dispatching them to agent workers.
      ORCHESTRATOR_ENABLED: 'false',
      SWITCHYARD_API_KEYS: JSON.stringify([
        { name: 'viewer', role: 'viewer', sha256: hashToken(VIEWER_TOKEN) },
      ]),
    });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
    env = { SWITCHYARD_URL: url, SWITCHYARD_TOKEN: ADMIN_TOKEN };
    dir = mkdtempSync(join(tmpdir(), 'sy-cli-'));
    // Stand-in for the orchestrator: runs READY tasks in-process. `boom` tasks fail for good.
    await t.app.get(TaskQueueService).startProcessing(
      async (task: TaskRecord): Promise<TaskHandlerOutcome> => {
        await new Promise((r) => setTimeout(r, 20));
        if (task.capability === 'flaky-once' && task.attempt === 0)
          return {
            kind: 'failed',
            error: { type: 'upstream_error', message: 'flaky once', retryable: true },
            agentId: 'cli-flaky',
          };
        if (task.capability === 'costly')
          return {
            kind: 'completed',
            result: { echoed: task.payload ?? null },
            agentId: 'cli-costly',
            cost: { usd: 0.25, inputTokens: 100, outputTokens: 10 },
          };
        return task.capability === 'boom'
          ? { kind: 'failed', error: { type: 'validation', message: 'boom', retryable: false } }
          : { kind: 'completed', result: { echoed: task.payload ?? null } };
      },
      { concurrency: 4 },
    );
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every command in --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['agent', 'task', 'workflow', 'queue', 'circuit-breaker', 'metrics']) {
      expect(r.stdout).toContain(c);
    }
  });

  it('exits 4 with a hint when the server cannot be reached', async () => {
    const port = await freePort();
    const r = await cli(['queue', 'status', '--url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`cannot reach Switchyard at http://127.0.0.1:${port}`);
    expect(r.stderr).toContain('npm start');
  });

  it('exits 5 on a bad token and on a role that may not act', async () => {
    const bad = await cli(['task', 'list', '--token', 'wrong-token-wrong'], {
      SWITCHYARD_URL: url,
    });
    expect(bad.code).toBe(5);
    expect(bad.stderr).toContain('401 UNAUTHENTICATED');
    const none = await cli(['task', 'list'], { SWITCHYARD_URL: url });
    expect(none.code).toBe(5);
    expect(none.stderr).toContain('SWITCHYARD_TOKEN');
    const viewer = await cli(['task', 'cancel', 'x1'], { ...env, SWITCHYARD_TOKEN: VIEWER_TOKEN });
    expect(viewer.code).toBe(5);
    expect(viewer.stderr).toContain('403 FORBIDDEN');
  });

  it('exits 6 for an unknown task', async () => {
    const r = await cli(['task', 'status', 'no-such-task'], env);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('404 NOT_FOUND');
  });

  it('shows validation errors field by field (exit 2), and bad JSON files', async () => {
    const bad = file('bad-task.json', { capability: '', priority: 99, bogus: true });
    const r = await cli(['task', 'submit', bad], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('400 VALIDATION_FAILED');
    expect(r.stderr).toMatch(/^ {2}- capability: /m);
    expect(r.stderr).toMatch(/^ {2}- priority: /m);
    expect(r.stderr).toMatch(/^ {2}- bogus: unknown field/m);
    const notJson = await cli(['task', 'submit', file('broken.json', '{"capability":')], env);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('not valid JSON');
  });

  it('lists and shows agents', async () => {
    const res = await fetch(`${url}/v1/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'cli-agent', capabilities: ['docs'], maxLoad: 2 }),
    });
    expect(res.status).toBeLessThan(300);
    const list = await cli(['agent', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+STATUS\s+LOAD\s+HEALTH/m);
    expect(list.stdout).toMatch(/^cli-agent\s+AVAILABLE\s+0\/2\s+1\.00\s+docs/m);
    const json = await cli(['agent', 'list', '--json'], env);
    expect(
      (JSON.parse(json.stdout) as { items: { id: string }[] }).items.map((a) => a.id),
    ).toContain('cli-agent');
    const info = await cli(['agent', 'info', 'cli-agent'], env);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/^capabilities:\s+docs$/m);
    expect((await cli(['agent', 'info', 'nobody'], env)).code).toBe(6);
  });

  it('submits (from a file and stdin), shows, lists and cancels tasks', async () => {
    const submitted = await cli(
      ['task', 'submit', file('t.json', { capability: 'docs', payload: { n: 1 } }), '--json'],
      env,
    );
    expect(submitted.code).toBe(0);
    const task = JSON.parse(submitted.stdout) as TaskRecord;
    expect(task.capability).toBe('docs');

    const blocked = await cli(
      ['task', 'submit', '-'],
      env,
      JSON.stringify({ capability: 'docs', dependsOn: ['never-submitted'] }),
    );
    expect(blocked.code).toBe(0);
    const blockedId = /Submitted task (\S+) \(status BLOCKED\)/.exec(blocked.stdout)?.[1];
    expect(blockedId).toBeDefined();

    const status = await cli(['task', 'status', task.id], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`id:`);
    expect(status.stdout).toContain(task.id);

    const list = await cli(['task', 'list', '--status', 'blocked'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+REF\s+CAPABILITY\s+STATUS/m);
    expect(list.stdout).toContain(blockedId!);
    expect(list.stdout).not.toContain(task.id);

    const cancelled = await cli(['task', 'cancel', blockedId!], env);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`Task ${blockedId}: CANCELLED`);
  });

  it('prints a delegation tree with status, agent, duration and cost (and --json)', async () => {
    const api = async (path: string, body: unknown) => {
      const r = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(201);
      return (await r.json()) as TaskRecord;
    };
    // A root that stays live (it waits for a task never submitted) with two costly children,
    // one of which has a child of its own that also waits.
    const root = await api('/v1/tasks', { capability: 'lead', dependsOn: ['tree-never'] });
    const mid = await api('/v1/tasks', {
      capability: 'middle',
      dependsOn: ['tree-never'],
      parentTaskId: root.id,
    });
    const leafA = await api('/v1/tasks', {
      capability: 'costly',
      payload: { a: 1 },
      parentTaskId: root.id,
    });
    const leafB = await api('/v1/tasks', {
      capability: 'costly',
      payload: { b: 1 },
      parentTaskId: mid.id,
    });
    const waitDone = async (id: string) => {
      for (let i = 0; i < 200; i++) {
        const r = await fetch(`${url}/v1/tasks/${id}`, {
          headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        if (((await r.json()) as { status: string }).status === 'COMPLETED') return;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`task ${id} did not complete`);
    };
    await waitDone(leafA.id);
    await waitDone(leafB.id);

    const human = await cli(['task', 'tree', root.id], env);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TASK\s+CAPABILITY\s+STATUS\s+AGENT\s+DURATION\s+COST$/);
    expect(lines).toHaveLength(5);
    const col = lines[0].indexOf('CAPABILITY');
    expect(lines.slice(1).map((l) => l.slice(0, col).trimEnd())).toEqual([
      root.id,
      `├─ ${mid.id}`,
      `│  └─ ${leafB.id}`,
      `└─ ${leafA.id}`,
    ]);
    expect(lines[1]).toMatch(/lead\s+BLOCKED\s+-\s+-\s+\$0\.0000 \(tree \$0\.5000\)$/);
    expect(lines[3]).toMatch(/costly\s+COMPLETED\s+cli-costly\s+\d+(ms|\.\ds)\s+\$0\.2500$/);

    const json = await cli(['task', 'tree', root.id, '--json'], env);
    expect(json.code).toBe(0);
    const tree = JSON.parse(json.stdout) as {
      id: string;
      treeCost: { usd: number };
      children: { id: string; children: { id: string }[] }[];
    };
    expect(tree.id).toBe(root.id);
    expect(tree.treeCost.usd).toBeCloseTo(0.5, 6);
    expect(tree.children.map((c) => c.id)).toEqual([mid.id, leafA.id]);
    expect(tree.children[0].children.map((c) => c.id)).toEqual([leafB.id]);

    const missing = await cli(['task', 'tree', 'no-such-task'], env);
    expect(missing.code).toBe(6);
    await cli(['task', 'cancel', root.id], env);
  });

  it('shows queue counts, breakers and metrics', async () => {
    const queue = await cli(['queue', 'status'], env);
    expect(queue.code).toBe(0);
    expect(queue.stdout).toMatch(/^ready:\s+\d+$/m);
    const qjson = JSON.parse((await cli(['queue', 'status', '--json'], env)).stdout) as Record<
      string,
      number
    >;
    expect(typeof qjson.ready).toBe('number');

    const breakers = await cli(['circuit-breaker', 'status'], env);
    expect(breakers.code).toBe(0);
    const one = await cli(['circuit-breaker', 'status', 'cli-agent', '--json'], env);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ agentId: 'cli-agent', state: 'closed' });

    const metrics = await cli(['metrics', '--all', '--grep', 'process_cpu'], env);
    expect(metrics.code).toBe(0);
    expect(metrics.stdout).toMatch(/^METRIC\s+LABELS\s+VALUE/m);
    expect(metrics.stdout).toMatch(/^process_cpu_user_seconds_total\s+-\s+[\d.]+$/m);
    const switchyardOnly = await cli(['metrics'], env);
    expect(switchyardOnly.code).toBe(0);
    expect(switchyardOnly.stdout).not.toContain('process_cpu');
    const raw = await cli(['metrics', '--raw'], env);
    expect(raw.stdout).toContain('# TYPE');
  });

  it('follows a workflow to completion over the live feed (exit 0)', async () => {
    const wf = file('wf.json', {
      name: 'cli-follow',
      tasks: [
        { ref: 'plan', capability: 'docs' },
        { ref: 'code', capability: 'docs', dependsOn: ['plan'] },
        { ref: 'test', capability: 'docs', dependsOn: ['plan'] },
        { ref: 'docs', capability: 'docs', dependsOn: ['code', 'test'] },
      ],
    });
    const r = await cli(['workflow', 'run', wf, '--follow', '--timeout', '20'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Workflow \S+ submitted \(4 tasks\)$/m);
    expect(r.stdout).toMatch(/^\[1\/4\] plan COMPLETED/m);
    expect(r.stdout).toMatch(/^\[4\/4\] docs COMPLETED \(\d/m);
    expect(r.stdout).toMatch(/^Workflow \S+ COMPLETED after/m);

    const id = /^Workflow (\S+) submitted/m.exec(r.stdout)![1];
    const status = await cli(['workflow', 'status', id], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^status:\s+COMPLETED$/m);
    expect(status.stdout).toMatch(/^\S+\s+docs\s+docs\s+COMPLETED/m);
  });

  it('--follow says what failed, why, and when the next attempt is', async () => {
    const wf = file('wf-retry.json', {
      tasks: [
        {
          ref: 'wobbly',
          capability: 'flaky-once',
          retry: { maxRetries: 1, baseDelayMs: 300, maxDelayMs: 300 },
        },
        { ref: 'bad', capability: 'boom', dependsOn: ['wobbly'] },
      ],
    });
    const r = await cli(['workflow', 'run', wf, '--follow', '--timeout', '20'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^ {6}wobbly RETRYING after upstream_error: flaky once \(on cli-flaky\); attempt 2 of 2 at \d\d:\d\d:\d\d/m,
    );
    expect(r.stdout).not.toContain('RETRYING: retry');
    expect(r.stdout).toMatch(/^\[1\/2\] wobbly COMPLETED/m);
    expect(r.stdout).toMatch(/^\[2\/2\] bad FAILED \(\d+ ?ms\): validation: boom$/m);
    expect(r.stdout).toMatch(/^Workflow \S+ FAILED after/m);
  });

  it('exits 1 when a followed workflow fails, and --json prints events', async () => {
    const wf = file('wf-fail.json', {
      tasks: [
        { ref: 'a', capability: 'docs' },
        { ref: 'b', capability: 'boom', dependsOn: ['a'] },
      ],
    });
    const r = await cli(['workflow', 'run', wf, '--follow', '--json', '--timeout', '20'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('workflow ended FAILED');
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const types = lines
      .map((l) => (l.event as { type?: string } | undefined)?.type)
      .filter(Boolean);
    expect(types).toContain('task.completed');
    expect(types).toContain('task.failed');
    expect(lines[lines.length - 1]).toMatchObject({ status: 'FAILED', succeeded: false });
  });

  it('cancels a workflow', async () => {
    const created = await cli(
      [
        'workflow',
        'run',
        file('wf3.json', {
          tasks: [{ ref: 'x', capability: 'nobody-runs-this', dependsOnTasks: ['never'] }],
        }),
        '--json',
      ],
      env,
    );
    expect(created.code).toBe(0);
    const id = (JSON.parse(created.stdout) as { workflow: { id: string } }).workflow.id;
    const r = await cli(['workflow', 'cancel', id], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Workflow ${id}: CANCELLED, 1 task(s) cancelled\n`);
    expect((await cli(['workflow', 'cancel', 'no-such-workflow'], env)).code).toBe(6);
  });

  it('runs a workflow without --follow and prints its id', async () => {
    const r = await cli(
      ['workflow', 'run', file('wf2.json', { tasks: [{ ref: 'x', capability: 'docs' }] })],
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Workflow \S+ submitted \(status RUNNING, 1 tasks\)$/m);
  });
});
