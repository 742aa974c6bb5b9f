import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api, BIN, Cluster, type ControlPlane, ensureBuilt, ROOT } from '../support/processes';

// examples/agents-claude: the demo team as Claude Code agents. Linted with the compiled CLI,
// then run once on a real control plane + worker process (Redis, RabbitMQ) against the fake
// `claude` (test/fixtures/fake-claude), which calls the Switchyard MCP tools its prompt lists.
jest.setTimeout(180_000);

const TEAM = join(ROOT, 'examples', 'agents-claude');
const FAKE_CLAUDE = join(ROOT, 'test', 'fixtures', 'fake-claude', 'claude');
const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

interface TreeNode {
  id: string;
  capability: string;
  status: string;
  agentId?: string;
  treeCost?: { usd: number };
  children: TreeNode[];
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examples/agents-claude: the team as Claude Code agents (e2e, fake claude)', () => {
  const cluster = new Cluster('claudeteam');
  let cp: ControlPlane;
  let api: Api;
  const pidDir = mkdtempSync(join(tmpdir(), 'sy-claude-team-'));

  beforeAll(async () => {
    await ensureBuilt();
  });
  afterAll(async () => {
    await cluster.destroy();
    rmSync(pidDir, { recursive: true, force: true });
  });

  it('switchyard agents lint loads both agent files (the README is documentation)', async () => {
    const r = await cli(['agents', 'lint', TEAM, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      loaded: { name: string; executor: string; capabilities: string[] }[];
      skipped: { file: string }[];
    };
    expect(report.loaded.map((a) => [a.name, a.executor])).toEqual([
      ['code-reviewer', 'claude'],
      ['doc-writer', 'claude'],
    ]);
    expect(report.loaded[0].capabilities).toContain('code-review');
    expect(report.skipped.map((s) => s.file)).toEqual(['README.md']);
    expect(report.loaded.flatMap((a) => (a as { warnings?: unknown[] }).warnings ?? [])).toEqual(
      [],
    );
  });

  it('runs the review-and-document workflow: the reviewer delegates per module over MCP, then the report', async () => {
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    await cluster.startWorker('wteam', TEAM, ['code-reviewer', 'doc-writer'], api, {
      CLAUDE_BIN: FAKE_CLAUDE,
      SWITCHYARD_URL: cp.url,
      FAKE_CLAUDE_PIDDIR: pidDir,
      WORKER_PASS_ENV: 'FAKE_CLAUDE_*',
    });
    const workflow = JSON.parse(
      readFileSync(join(ROOT, 'examples', 'workflows', 'review-and-document.json'), 'utf8'),
    ) as { tasks: { ref: string; payload: Record<string, unknown> }[] };
    const review = workflow.tasks.find((t) => t.ref === 'review')!;
    expect(review.payload.perModule).toBe(true);
    // The real model reads the directory and calls delegate_many; the fake claude calls what its
    // prompt lists, so the test writes out the call the prompt asks for.
    const modules = ['src/auth', 'src/queue', 'src/worker'];
    review.payload.prompt = `${String(review.payload.prompt)}\nMCP: delegate_many ${JSON.stringify({
      tasks: modules.map((path) => ({ capability: 'code-review', payload: { path } })),
    })}`;
    const submitted = await api.submit('/v1/workflows', workflow);
    const wfId = (submitted as unknown as { workflow: { id: string } }).workflow.id;
    const wf = await cluster.waitFor(
      async () => {
        const r = await api.get(`/v1/workflows/${wfId}`);
        const body = r.body as {
          workflow: { status: string };
          tasks: { id: string; ref: string }[];
        };
        return TERMINAL.includes(body.workflow.status) ? body : undefined;
      },
      120_000,
      'the workflow to finish',
    );
    expect(wf.workflow.status).toBe('COMPLETED');
    const reviewId = wf.tasks.find((t) => t.ref === 'review')!.id;
    const tree = (await api.get(`/v1/tasks/${reviewId}/tree`)).body as TreeNode;
    expect(tree.agentId).toBe('code-reviewer@wteam');
    expect(tree.children.map((c) => [c.capability, c.status, c.agentId])).toEqual(
      modules.map(() => ['code-review', 'COMPLETED', 'code-reviewer@wteam']),
    );
    // The reviewer got its children's answers back as the delegate_many result.
    const reviewText = readFileSync(join(pidDir, `${reviewId}.out`), 'utf8');
    expect(reviewText).toMatch(/^delegate_many => \{"results":\[/);
    for (const id of tree.children.map((c) => c.id)) expect(reviewText).toContain(id);
    // Four Claude runs (reviewer + three modules) at the recorded $0.103028 each, rolled up.
    expect(tree.treeCost?.usd).toBeCloseTo(4 * 0.103028, 6);

    // The doc-writer ran after the review, with the Switchyard MCP server (the fake claude
    // only answers this way when it was given --mcp-config).
    const docsId = wf.tasks.find((t) => t.ref === 'docs')!.id;
    const docs = (await api.get(`/v1/tasks/${docsId}`)).body as {
      status: string;
      agentId: string;
      startedAt: string;
      result: { text: string };
    };
    expect(docs).toMatchObject({ status: 'COMPLETED', agentId: 'doc-writer@wteam' });
    expect(docs.result.text).toBe('no MCP actions in the prompt');
    const reviewTask = (await api.get(`/v1/tasks/${reviewId}`)).body as { completedAt: string };
    expect(Date.parse(docs.startedAt)).toBeGreaterThanOrEqual(Date.parse(reviewTask.completedAt));
  });
});
