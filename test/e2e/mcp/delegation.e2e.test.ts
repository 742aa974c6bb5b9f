import { join } from 'node:path';
import { encodeTaskCredential } from '../../../src/auth/task-credential.codec';
import { SwitchyardMcpClient, toolValue } from '../../../src/mcp/client/switchyard-mcp.client';
import {
  ADMIN_TOKEN,
  Api,
  Cluster,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
} from '../../support/processes';

// Real control planes, worker processes, Redis and RabbitMQ on a busy 2-core machine.
jest.setTimeout(180_000);

const AGENTS = join(E2E_AGENTS, 'mcp');
const SECRET = 'mcp-del-e2e-task-credential-secret-0123456789';
// The fake claude's MCP actions (test/fixtures/fake-claude/mcp-actions.js), driven directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS test fixture
const mcpActions = require('../../fixtures/fake-claude/mcp-actions.js') as {
  run(a: { mcpConfig: unknown; prompt: string }): Promise<{ text: string }>;
};
const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** `{capability:'chain', payload:{...}}` nested `levels` times around `inner`. */
function chain(levels: number, inner: { capability: string; payload?: unknown }): unknown {
  let p: unknown = inner;
  for (let i = 0; i < levels; i++) p = { capability: 'chain', payload: p };
  return p;
}

interface TreeNode {
  id: string;
  capability: string;
  status: string;
  children: TreeNode[];
}

function flatten(n: TreeNode): TreeNode[] {
  return [n, ...n.children.flatMap(flatten)];
}

/**
 * Delegation through the control plane with task credentials: builtin `ctx.delegate` (MCP) and a
 * `command` agent over REST, on a worker whose SWITCHYARD_URL is the *other* control plane;
 * a maxConcurrency 1 agent delegating to itself; limits; cancelling a root.
 */
describe('delegation trees through Switchyard (e2e, real processes)', () => {
  const cluster = new Cluster('mcpdel', {
    DELEGATION_MAX_REPEATS: '10',
    DELEGATION_MAX_DEPTH: '5',
    SWITCHYARD_TASK_CREDENTIAL_SECRET: SECRET,
  });
  let cp1: ControlPlane;
  let cp2: ControlPlane;
  let api: Api;

  const finished = (id: string, timeoutMs = 60_000) =>
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
    [cp1, cp2] = await Promise.all([
      cluster.startControlPlane('cp1'),
      cluster.startControlPlane('cp2'),
    ]);
    api = new Api(cp1.url);
    await cluster.startWorker('wm', AGENTS, ['chain', 'echo', 'sleeper', 'rest-delegator'], api, {
      SWITCHYARD_URL: cp2.url,
    });
  });

  afterAll(() => cluster.destroy());

  it('a builtin agent delegates (ctx.delegate over MCP) and the child is in its tree', async () => {
    const root = await api.submit('/v1/tasks', {
      capability: 'chain',
      payload: { capability: 'echo', payload: { hello: 'world' } },
    });
    const done = await finished(root.id);
    expect(done.status).toBe('COMPLETED');
    expect(done.result).toEqual({ capability: 'echo', result: { hello: 'world' } });
    const tree = (await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode;
    expect(tree.children).toHaveLength(1);
    expect(tree.children[0]).toMatchObject({ capability: 'echo', status: 'COMPLETED' });
  });

  it('maxConcurrency 1 delegating to its own capability three levels deep completes (no pool deadlock)', async () => {
    const root = await api.submit('/v1/tasks', {
      capability: 'chain',
      payload: chain(2, { capability: 'echo', payload: { leaf: true } }),
      timeoutMs: 120_000,
    });
    const done = await finished(root.id, 90_000);
    expect(done.status).toBe('COMPLETED');
    const nodes = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
    expect(nodes.map((n) => n.capability)).toEqual(['chain', 'chain', 'chain', 'echo']);
    expect(nodes.every((n) => n.status === 'COMPLETED')).toBe(true);
  });

  it('a chain deeper than the depth limit is refused with DELEGATION_LIMIT, never hangs', async () => {
    const root = await api.submit('/v1/tasks', {
      capability: 'chain',
      payload: chain(7, { capability: 'echo', payload: {} }),
      timeoutMs: 120_000,
    });
    const done = await finished(root.id, 90_000);
    expect(done.status).toBe('FAILED');
    expect(JSON.stringify(done.error)).toMatch(/DELEGATION_LIMIT|delegation/i);
  });

  it('a command agent delegates over REST with its task credential; other trees are 403', async () => {
    const foreign = await api.submit('/v1/tasks', { capability: 'nobody-has-this', payload: {} });
    const root = await api.submit('/v1/tasks', {
      capability: 'rest-delegate',
      payload: { capability: 'echo', payload: { via: 'rest' }, foreignTaskId: foreign.id },
    });
    const done = await finished(root.id);
    expect(done.status).toBe('COMPLETED');
    expect(done.result).toMatchObject({
      parentTaskId: root.id,
      status: 'COMPLETED',
      result: { via: 'rest' },
      foreign: 403,
    });
    await api.post(`/v1/tasks/${foreign.id}/cancel`);
  });

  it('cancelling the root cancels every descendant', async () => {
    const root = await api.submit('/v1/tasks', {
      capability: 'chain',
      payload: chain(2, { capability: 'sleep', payload: { ms: 60_000 } }),
      timeoutMs: 120_000,
    });
    const leaf = await cluster.waitFor(
      async () => {
        const nodes = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
        return nodes.find((n) => n.capability === 'sleep' && n.status === 'RUNNING');
      },
      60_000,
      'the sleeping leaf to run',
    );
    await api.post(`/v1/tasks/${root.id}/cancel`);
    const nodes = await cluster.waitFor(
      async () => {
        const all = flatten((await api.get(`/v1/tasks/${root.id}/tree`)).body as TreeNode);
        return all.every((n) => TERMINAL.includes(n.status)) ? all : undefined;
      },
      10_000,
      'every task of the tree to end',
    );
    expect(nodes).toHaveLength(4);
    expect(nodes.find((n) => n.id === leaf.id)?.status).toBe('CANCELLED');
    expect(nodes.every((n) => n.status === 'CANCELLED')).toBe(true);
  });

  it('the fake claude MCP actions: parallel delegations and progress, with a task credential', async () => {
    const holder = await api.submit('/v1/tasks', {
      capability: 'sleep',
      payload: { ms: 60_000 },
      timeoutMs: 120_000,
    });
    await cluster.waitFor(
      async () => (await api.get(`/v1/tasks/${holder.id}`)).body.status === 'RUNNING',
      30_000,
      'the holder task to run',
    );
    const token = encodeTaskCredential(Buffer.from(SECRET), {
      taskId: holder.id,
      rootTaskId: holder.id,
      exp: Math.floor(Date.now() / 1000) + 300,
    });
    const mcpConfig = JSON.stringify({
      mcpServers: {
        switchyard: {
          type: 'http',
          url: `${cp2.url}/mcp`,
          headers: { Authorization: `Bearer ${token}` },
        },
      },
    });
    const { text } = await mcpActions.run({
      mcpConfig,
      prompt: [
        'Ask two agents at once, then report.',
        'MCP&: delegate {"capability":"echo","payload":{"n":1}}',
        'MCP&: delegate {"capability":"chain","payload":{"capability":"echo","payload":{"n":2}}}',
        'MCP: report_progress {"message":"both answered","percent":100}',
        'MCP: get_task {"taskId":"{{task}}"}',
      ].join('\n'),
    });
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^delegate => /);
    expect(JSON.parse(lines[0].slice('delegate => '.length))).toMatchObject({
      status: 'COMPLETED',
      output: { n: 1 },
      parentTaskId: holder.id,
    });
    expect(JSON.parse(lines[1].slice('delegate => '.length))).toMatchObject({
      status: 'COMPLETED',
      output: { capability: 'echo', result: { n: 2 } },
    });
    expect(lines[2]).toBe('report_progress => {"ok":true}');
    expect(lines[3]).toMatch(new RegExp(`^get_task => .*"taskId":"${holder.id}"`));
    const tree = (await api.get(`/v1/tasks/${holder.id}/tree`)).body as TreeNode;
    expect(
      flatten(tree)
        .map((n) => n.capability)
        .sort(),
    ).toEqual(['chain', 'echo', 'echo', 'sleep'].sort());
    await api.post(`/v1/tasks/${holder.id}/cancel`);
  });

  it('delegate with wait sends progress notifications while the child runs (at least every 15 s)', async () => {
    const c = new SwitchyardMcpClient({ url: cp1.url, token: ADMIN_TOKEN });
    const progress: number[] = [];
    const t0 = Date.now();
    try {
      const res = await c.callRaw(
        'delegate',
        { capability: 'sleep', payload: { ms: 12_000 }, wait: true },
        { onprogress: () => progress.push(Date.now() - t0) },
      );
      expect(res.isError).toBeFalsy();
      expect(toolValue(res)).toMatchObject({ status: 'COMPLETED', output: { sleptMs: 12_000 } });
    } finally {
      await c.close();
    }
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toBeLessThanOrEqual(15_000);
  });
});
