import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deletePrefix } from '../support/redis-cleanup';
import { BIN, ensureBuilt, ROOT } from '../support/processes';

// `npm run demo` end to end: a control plane, two worker processes (or one process without
// RabbitMQ), a real review of this project's src/ fanned out per module through delegation,
// then the report, then the tree. Slow on a busy 2-core machine.
jest.setTimeout(240_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function demo(env: Record<string, string>, out: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'demo', '--out', out], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The rows of the printed tree: [prefix+id, capability, status, agent]. */
function treeRows(stdout: string): { branch: string; capability: string; agent: string }[] {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => /^TASK\s+CAPABILITY\s+STATUS\s+AGENT/.test(l));
  expect(header).toBeGreaterThanOrEqual(0);
  const rows: { branch: string; capability: string; agent: string }[] = [];
  for (const l of lines.slice(header + 1)) {
    if (!l.trim()) break;
    const m = /^(.*?)\s{2,}(\S+)\s+(\S+)\s+(\S+)\s+\S+\s+\S+$/.exec(l);
    if (!m) break;
    rows.push({ branch: m[1], capability: m[2], agent: m[4] });
  }
  return rows;
}

/** The src/ subdirectories with TypeScript (the modules the reviewer fans out to). */
function srcModules(): number {
  return readdirSync(join(ROOT, 'src')).filter((n) => statSync(join(ROOT, 'src', n)).isDirectory())
    .length;
}

describe('npm run demo (e2e)', () => {
  const prefixes: string[] = [];
  const reports: string[] = [];

  beforeAll(async () => {
    await ensureBuilt();
  });
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(p);
    for (const r of reports) rmSync(r, { force: true });
  });

  const run = async (name: string, extra: Record<string, string>) => {
    const id = `${name}-${process.pid}-${Date.now()}`;
    const prefix = `sy-e2e-demo-${id}:`;
    prefixes.push(prefix);
    const out = join(ROOT, 'reports', `e2e-demo-${id}.md`);
    reports.push(out);
    const r = await demo(
      { REDIS_KEY_PREFIX: prefix, BUS_NAMESPACE: `sy-e2e-demo-${id}`, ...extra },
      out,
    );
    if (r.code !== 0) console.error(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Workflow \S+ COMPLETED after/);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toContain('# API overview and code review');
    const rows = treeRows(r.stdout);
    // workflow, the review, one delegated review per module, the docs task.
    expect(rows[0].branch).toMatch(/^workflow /);
    expect(rows[1]).toMatchObject({ capability: 'code-review' });
    expect(rows[1].branch).toMatch(/^├─ /);
    const children = rows.filter((row) => /^│ {2}[├└]─ /.test(row.branch));
    expect(children.length).toBe(srcModules());
    expect(children.every((c) => c.capability === 'code-review')).toBe(true);
    expect(rows[rows.length - 1]).toMatchObject({ capability: 'documentation' });
    expect(rows[rows.length - 1].branch).toMatch(/^└─ /);
    return { r, children };
  };

  it('with RabbitMQ: two worker processes share the module reviews', async () => {
    const { r, children } = await run('dist', {});
    expect(r.stdout).toContain('Workers:       2 processes');
    const agents = new Set(children.map((c) => c.agent));
    expect(agents).toEqual(new Set(['code-reviewer@demo-worker-1', 'code-reviewer@demo-worker-2']));
  });

  it('without RabbitMQ: one process, the same team on the in-memory bus', async () => {
    const { r } = await run('single', { BUS_TRANSPORT: 'memory' });
    expect(r.stdout).toContain('running in single-process mode');
  });
});
