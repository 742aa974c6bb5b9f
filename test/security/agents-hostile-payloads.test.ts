/**
 * OWASP API10:2023 (unsafe consumption) from the worker's side: a worker consumes task payloads
 * it did not write. Every shipped agent (examples/agents, and the e2e fixture agents) is run
 * through its real executor with hostile payloads; nothing may run code, read or write outside
 * the worker's directory, replace a file, or smuggle a line into a report.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { loadAgentDirectory } from '../../src/agents/agent-loader';
import type { AgentDefinition } from '../../src/agents/agent-definition.type';
import { createExecutor } from '../../src/worker/executors/create-executor';
import type { ExecutionRequest } from '../../src/worker/executors/executor.types';
import { agentDef, execContext, testExecutorOptions } from '../support/worker-fixtures';

const REPO = resolve(__dirname, '../..');
/** Not run here: a test-only agent that starts `sleep 300` and waits to be cancelled. */
const NOT_RUN: Record<string, string> = {
  spawner: 'waits for cancellation by design; its pidFile rule is checked below',
};

function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      const rel = relative(dir, full);
      if (skip(rel)) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isSymbolicLink()) out.set(rel, 'symlink');
      else {
        const st = statSync(full);
        out.set(
          rel,
          `${st.mode.toString(8)}:${createHash('sha256').update(readFileSync(full)).digest('hex')}`,
        );
      }
    }
  };
  walk(dir);
  return out;
}

describe('shipped agents under hostile payloads', () => {
  let root: string; // the worker's directory
  let outside: string; // somewhere a task must never reach
  let marker: string; // written only if hostile code ran
  let agents: AgentDefinition[];
  let hostile: string[];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sy-sec-root-'));
    outside = mkdtempSync(join(tmpdir(), 'sy-sec-outside-'));
    marker = join(outside, 'PWNED');
    const evil = join(outside, 'evil.cjs');
    writeFileSync(evil, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');`);
    writeFileSync(
      join(outside, 'evil.test.js'),
      `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');`,
    );
    writeFileSync(join(outside, 'victim.md'), 'victim');
    writeFileSync(join(outside, 'victim.js'), 'console.log(1)', { mode: 0o755 });
    chmodSync(join(outside, 'victim.js'), 0o755);
    // The worker's directory: a test the test-runner may run, code the reviewer may read, an
    // executable a doc-writer must not replace, and a symlink that leads outside.
    copyFileSync(
      join(REPO, 'examples/agents/scripts/sample.test.js'),
      join(root, 'sample.test.js'),
    );
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src/a.ts'), 'export function a(): number { return 1; }\n');
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'dist/main.js'), 'console.log("real")', { mode: 0o755 });
    chmodSync(join(root, 'dist/main.js'), 0o755);
    symlinkSync(outside, join(root, 'escape'));
    mkdirSync(join(root, 'reports'));
    symlinkSync(outside, join(root, 'reports/escape'));

    const dataImport = `--import=data:text/javascript,import{writeFileSync}from"node:fs";writeFileSync(${JSON.stringify(marker)},"x")`;
    hostile = [
      '-x',
      '--flag=1',
      '-',
      '--',
      dataImport,
      `--require=${evil}`,
      `-r${evil}`,
      `--test-reporter-destination=${join(outside, 'out.txt')}`,
      '../../../../../../etc/passwd',
      '../outside.md',
      '/etc/passwd',
      evil,
      join(outside, 'evil.test.js'),
      join(outside, 'new.md'),
      join(outside, 'victim.md'),
      'escape/evil.test.js',
      'reports/escape/new.md',
      'dist/main.js',
      'reports/../dist/main.js',
      'line\n# Injected',
      'reports/a\nb.md',
      'reports/a\u0000b.md',
      'sample.test.js\u0000--import=x',
      `sample.test.js\n${dataImport}`,
    ];

    agents = [];
    for (const dir of ['examples/agents', 'test/fixtures/e2e-agents']) {
      const { loaded } = await loadAgentDirectory(join(REPO, dir));
      agents.push(...loaded);
    }
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const review = { path: 'src', findings: [], exports: [] };
  // Every field any shipped agent reads, hostile at once, then one field at a time where an
  // earlier check (outPath before title, the first file before the second) would hide the next.
  const payloadsFor = (h: string): unknown[] => [
    h,
    { files: [h], path: h, outPath: h, title: h, pidFile: h, ms: 1, capability: h, payload: h },
    {
      files: ['sample.test.js', h],
      path: 'src',
      outPath: `reports/title-${createHash('md5').update(h).digest('hex')}.md`,
      title: h,
    },
    { outPath: h, overwrite: true, files: [h], ms: 1 },
  ];

  it('loads the shipped agents (the list this test covers)', () => {
    const names = agents.map((a) => `${a.name}:${a.executor}`).sort();
    // A new shipped agent must be covered here too: this list is the reminder.
    expect(names).toEqual(
      expect.arrayContaining([
        'code-reviewer:builtin',
        'doc-writer:builtin',
        'echo:builtin',
        'security-auditor:claude',
        'test-runner:command',
      ]),
    );
  });

  it('no agent runs hostile code, writes outside its report directory or replaces a file', async () => {
    const before = snapshot(root, (rel) => rel.startsWith('reports'));
    const outsideBefore = snapshot(outside);
    const probe = join(outside, '..', `${relative(tmpdir(), outside)}-claude-probe.cjs`);
    // The claude agents run a probe that answers in the claude protocol with its argv.
    writeFileSync(
      probe,
      `#!/usr/bin/env node
let s='';process.stdin.on('data',c=>s+=c).on('end',()=>{process.stdout.write(JSON.stringify({type:'result',subtype:'success',is_error:false,result:JSON.stringify({argv:process.argv.slice(2)})}));});`,
      { mode: 0o755 },
    );
    chmodSync(probe, 0o755);
    const options = testExecutorOptions({ cwd: root, claudeBin: probe });
    let runs = 0;
    try {
      for (const agent of agents) {
        if (NOT_RUN[agent.name]) {
          console.warn(`hostile payloads: not running ${agent.name}: ${NOT_RUN[agent.name]}`);
          continue;
        }
        // Command argv paths in agent files are relative to the repository (the worker's
        // directory in production); here the worker's directory is the sandbox.
        const def: AgentDefinition =
          agent.executor === 'command'
            ? {
                ...agent,
                command: agent.command!.map((a, i) =>
                  i > 0 && existsSync(join(REPO, a)) ? join(REPO, a) : a,
                ),
              }
            : agent;
        const executor = createExecutor(def, options);
        // `sleep` reads only a numeric payload.ms (default 1 s): cut it short, a timeout is fine.
        const sleeper = agent.handler === 'sleep';
        for (const h of hostile) {
          for (const payload of payloadsFor(h)) {
            const request: ExecutionRequest = {
              taskId: `t-${runs}`,
              attempt: 0,
              capability: agent.capabilities[0],
              payload,
              inputs: { review },
              timeoutMs: sleeper ? 20 : 20_000,
            };
            const result = await executor.execute(request, execContext(def));
            runs += 1;
            if (!result.ok) {
              if (!sleeper) expect(result.error.type).not.toBe('timeout');
            } else if (agent.executor === 'claude') {
              const argv = (result.output as { data?: { argv: string[] } }).data?.argv ?? [];
              for (const arg of argv) {
                if (h.length > 4) expect(arg).not.toContain(h);
                else expect(arg).not.toBe(h);
              }
            }
            expect(existsSync(marker)).toBe(false);
          }
        }
      }
    } finally {
      rmSync(probe, { force: true });
    }
    expect(runs).toBeGreaterThan(100);
    expect(existsSync(marker)).toBe(false);
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(snapshot(root, (rel) => rel.startsWith('reports'))).toEqual(before);
    // Reports were written only as regular files inside reports/, each title on one line.
    for (const [rel] of snapshot(join(root, 'reports'), (r) => r === 'escape')) {
      const text = readFileSync(join(root, 'reports', rel), 'utf8');
      expect(text).not.toMatch(/^# Injected/m);
      expect(statSync(join(root, 'reports', rel)).mode & 0o111).toBe(0);
    }
  }, 600_000);

  it('the command executor never puts payload data in argv', async () => {
    const agent = agentDef({
      name: 'argv-probe',
      executor: 'command',
      command: [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv))', 'x'],
    });
    const executor = createExecutor(agent, testExecutorOptions({ cwd: root }));
    for (const h of hostile.slice(0, 8)) {
      const r = await executor.execute(
        { taskId: 't', attempt: 0, capability: 'argv-probe', payload: { files: [h], arg: h } },
        execContext(agent),
      );
      expect(r).toMatchObject({ ok: true, output: [process.execPath, 'x'] });
    }
  });

  it('the spawner fixture refuses a pid file outside a temp directory', async () => {
    const spawner = agents.find((a) => a.name === 'spawner')!;
    const def = {
      ...spawner,
      command: spawner.command!.map((a) => (a.endsWith('.js') ? join(REPO, a) : a)),
    };
    const executor = createExecutor(def, testExecutorOptions({ cwd: root }));
    for (const pidFile of [
      join(root, 'dist/main.js'),
      '/etc/pids.json',
      'pids.json',
      'a\n/pids.json',
    ]) {
      const r = await executor.execute(
        {
          taskId: 't',
          attempt: 0,
          capability: 'spawn-sleep',
          payload: { pidFile },
          timeoutMs: 10_000,
        },
        execContext(def),
      );
      expect(r).toMatchObject({ ok: false, error: { type: 'exit_nonzero' } });
    }
    expect(readFileSync(join(root, 'dist/main.js'), 'utf8')).toBe('console.log("real")');
  });
});
