import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Api,
  Cluster,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
  processAlive,
  ROOT,
} from '../../support/processes';

// Real control plane, worker process, Redis and RabbitMQ; the fake `claude` executable
// (test/fixtures/fake-claude) connects back over MCP with its task credential.
jest.setTimeout(180_000);

const AGENTS = join(E2E_AGENTS, 'mcp-claude');
const FAKE_CLAUDE = join(ROOT, 'test', 'fixtures', 'fake-claude', 'claude');
const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

interface TreeNode {
  id: string;
  capability: string;
  status: string;
  depth?: number;
  children: TreeNode[];
}
const flatten = (n: TreeNode): TreeNode[] => [n, ...n.children.flatMap(flatten)];

/** One prompt line of the fake claude's MCP syntax. */
const line = (parallel: boolean, tool: string, args: unknown) =>
  `MCP${parallel ? '&' : ''}: ${tool} ${JSON.stringify(args)}`;

/** The tool errors in a fake claude's result text (`<tool> !! <json>` lines). */
function toolErrors(text: string): { code: string; details?: Record<string, unknown> }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('delegate !! '))
    .map(
      (l) =>
        (
          JSON.parse(l.slice('delegate !! '.length)) as {
            error: { code: string; details?: Record<string, unknown> };
          }
        ).error,
    );
}

describe('Claude agents delegating through Switchyard MCP (e2e, fake claude)', () => {
  // Tight limits so each refusal is reachable in a few levels: depth 3, three children per task,
  // and an agent may hold the same capability once in its chain (a second time is a cycle).
  const cluster = new Cluster('mcpclaude', {
    DELEGATION_MAX_DEPTH: '3',
    DELEGATION_MAX_CHILDREN: '3',
    DELEGATION_MAX_REPEATS: '1',
  });
  let cp: ControlPlane;
  let api: Api;
  const pidDir = mkdtempSync(join(tmpdir(), 'sy-mcp-claude-'));

  const finished = (id: string, timeoutMs = 90_000) =>
    cluster.waitFor(
      async () => {
        const r = await api.get(`/v1/tasks/${id}`);
        return TERMINAL.includes(r.body.status) ? r.body : undefined;
      },
      timeoutMs,
      `task ${id} to finish`,
    );

  beforeAll(async () => {
    await ensureBuilt();
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    await cluster.startWorker(
      'wclaude',
      AGENTS,
      ['claude-lead', 'claude-helper', 'echo', 'sleeper'],
      api,
      {
        CLAUDE_BIN: FAKE_CLAUDE,
        SWITCHYARD_URL: cp.url,
        FAKE_CLAUDE_PIDDIR: pidDir,
        WORKER_PASS_ENV: 'FAKE_CLAUDE_*',
      },
    );
  });

  afterAll(async () => {
    for (const f of readdirSync(pidDir).filter((n) => n.endsWith('.pid'))) {
      try {
        process.kill(Number(readFileSync(join(pidDir, f), 'utf8')), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await cluster.destroy();
    rmSync(pidDir, { recursive: true, force: true });
  });

  it('a Claude agent delegates to a builtin agent and to another Claude agent in parallel', async () => {
    const root = await api.submit('/v1/tasks', {
      capability: 'claude-lead',
      payload: {
        prompt: [
          'Ask both, then combine.',
          line(true, 'delegate', { capability: 'echo', payload: { from: 'lead' } }),
          line(true, 'delegate', { capability: 'claude-helper', prompt: 'Just answer.' }),
        ].join('\n'),
      },
    });
    const done = await finished(root.id);
    expect(done.status).toBe('COMPLETED');
    const text = JSON.stringify(done.result);
    expect(text).toContain('delegate =>');
    expect(text).toContain('from');
    const nodes = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
    expect(nodes.map((n) => n.capability).sort()).toEqual(
      ['claude-helper', 'claude-lead', 'echo'].sort(),
    );
    expect(nodes.every((n) => n.status === 'COMPLETED')).toBe(true);
  });

  it('a three-level chain of Claude agents completes', async () => {
    const leaf = line(false, 'delegate', { capability: 'echo', payload: { level: 3 } });
    const middle = line(false, 'delegate', { capability: 'claude-helper', prompt: leaf });
    const root = await api.submit('/v1/tasks', {
      capability: 'claude-lead',
      payload: { prompt: line(false, 'delegate', { capability: 'claude-helper', prompt: middle }) },
    });
    const done = await finished(root.id);
    expect(done.status).toBe('COMPLETED');
    const nodes = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
    expect(nodes.map((n) => n.capability)).toEqual([
      'claude-lead',
      'claude-helper',
      'claude-helper',
      'echo',
    ]);
  });

  it('cancelling the root leaves no process of the tree running', async () => {
    const leaf = line(false, 'delegate', { capability: 'sleep', payload: { ms: 120_000 } });
    const root = await api.submit('/v1/tasks', {
      capability: 'claude-lead',
      payload: {
        prompt: line(false, 'delegate', { capability: 'claude-helper', prompt: leaf }),
      },
      timeoutMs: 170_000,
    });
    const nodes = await cluster.waitFor(
      async () => {
        const all = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
        const sleeping = all.find((n) => n.capability === 'sleep' && n.status === 'RUNNING');
        return sleeping ? all : undefined;
      },
      60_000,
      'the leaf to run',
    );
    const claudeIds = nodes.filter((n) => n.capability.startsWith('claude')).map((n) => n.id);
    const pids = claudeIds.map((id) => Number(readFileSync(join(pidDir, `${id}.pid`), 'utf8')));
    expect(pids.every(processAlive)).toBe(true);
    const levels = new Set(nodes.map((n) => n.depth ?? 0)).size;
    const cancelledAt = Date.now();
    await api.post(`/v1/tasks/${root.id}/cancel`);
    await cluster.waitFor(
      async () => !pids.some(processAlive),
      10_000,
      'every claude process of the tree to be gone',
    );
    // The bound: gone within a second per level of the tree.
    expect(Date.now() - cancelledAt).toBeLessThan(levels * 1000);
    const after = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
    expect(after.every((n) => n.status === 'CANCELLED')).toBe(true);
  });

  it('depth, fan-out and cycle refusals reach the Claude agent as tool errors', async () => {
    const echo = (i: number) =>
      line(false, 'delegate', { capability: 'echo', payload: { i }, wait: false });
    const nest = (capability: string, prompt: string) =>
      line(false, 'delegate', { capability, prompt });
    // lead(0) → helper(1) → helper(2) → lead(3) → echo(4): over the depth of 3.
    const depthRoot = api.submit('/v1/tasks', {
      capability: 'claude-lead',
      payload: {
        prompt: nest('claude-helper', nest('claude-helper', nest('claude-lead', echo(0)))),
      },
    });
    // Four children where three are allowed.
    const fanRoot = api.submit('/v1/tasks', {
      capability: 'claude-lead',
      payload: { prompt: [0, 1, 2, 3].map(echo).join('\n') },
    });
    // helper(2) delegating claude-helper again: the chain holds it twice already.
    const cycleRoot = api.submit('/v1/tasks', {
      capability: 'claude-lead',
      payload: {
        prompt: nest('claude-helper', nest('claude-helper', nest('claude-helper', 'Answer.'))),
      },
    });
    const [depth, fan, cycle] = await Promise.all([depthRoot, fanRoot, cycleRoot]);
    const deepest = async (rootId: string) => {
      const done = await finished(rootId);
      expect(done.status).toBe('COMPLETED');
      const nodes = flatten((await api.get(`/v1/tasks/${rootId}/tree`)).body as TreeNode);
      const last = nodes[nodes.length - 1];
      const task = (await api.get(`/v1/tasks/${last.id}`)).body as { result: { text: string } };
      return { nodes, errors: toolErrors(task.result.text) };
    };

    const d = await deepest(depth.id);
    expect(d.nodes.map((n) => n.capability)).toEqual([
      'claude-lead',
      'claude-helper',
      'claude-helper',
      'claude-lead',
    ]);
    expect(d.errors).toEqual([
      expect.objectContaining({
        code: 'DELEGATION_LIMIT',
        details: expect.objectContaining({ limit: 'depth' }),
      }),
    ]);

    const fanDone = await finished(fan.id);
    expect(fanDone.status).toBe('COMPLETED');
    const fanText = (fanDone.result as { text: string }).text;
    const fanNodes = flatten((await api.get(`/v1/tasks/${fan.id}/tree`)).body as TreeNode);
    expect(fanNodes.filter((n) => n.capability === 'echo')).toHaveLength(3);
    expect(fanText.split('\n').filter((l) => l.startsWith('delegate => '))).toHaveLength(3);
    expect(toolErrors(fanText)).toEqual([
      expect.objectContaining({
        code: 'DELEGATION_LIMIT',
        details: expect.objectContaining({ limit: 'children' }),
      }),
    ]);

    const c = await deepest(cycle.id);
    expect(c.nodes.map((n) => n.capability)).toEqual([
      'claude-lead',
      'claude-helper',
      'claude-helper',
    ]);
    expect(c.errors).toEqual([
      expect.objectContaining({
        code: 'DELEGATION_LIMIT',
        details: expect.objectContaining({ limit: 'cycle' }),
      }),
    ]);
  });

  it('a task whose children spent its budget is refused further delegations (BUDGET_EXCEEDED)', async () => {
    // Every fake claude run reports total_cost_usd 0.103028 (the recorded result). With a budget
    // of $0.15: the first helper fits, the second takes the tree over (that child fails
    // budget_exceeded), the third delegation is refused before it runs.
    // (Different prompts: the same delegation twice would get the first child's result back.)
    const helper = (n: number) =>
      line(false, 'delegate', { capability: 'claude-helper', prompt: `Answer ${n}.` });
    const root = await api.submit('/v1/tasks', {
      capability: 'claude-lead',
      budget: { usd: 0.15 },
      payload: {
        prompt: [
          helper(1),
          helper(2),
          line(false, 'delegate', { capability: 'echo', payload: {} }),
        ].join('\n'),
      },
    });
    const done = await finished(root.id);
    // The lead's own run is over budget too: it fails, non-retryable, after the refusal.
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatchObject({ type: 'budget_exceeded', retryable: false });
    const text = readFileSync(join(pidDir, `${root.id}.out`), 'utf8');
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^delegate => /);
    expect(lines[1]).toContain('budget_exceeded');
    expect(lines[2]).toMatch(/^delegate !! /);
    expect(toolErrors(lines[2])).toEqual([expect.objectContaining({ code: 'BUDGET_EXCEEDED' })]);
    const nodes = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
    expect(nodes.map((n) => [n.capability, n.status])).toEqual([
      ['claude-lead', 'FAILED'],
      ['claude-helper', 'COMPLETED'],
      ['claude-helper', 'FAILED'],
    ]);
    // The children's cost (the worker's usage.costUsd from total_cost_usd) rolled up to the root.
    const body = (await api.get(`/v1/tasks/${root.id}`)).body as {
      cost: { usd: number };
      treeCost: { usd: number };
    };
    expect(body.cost.usd).toBeCloseTo(0.103028, 6);
    expect(body.treeCost.usd).toBeCloseTo(3 * 0.103028, 6);
  });
});
