import { createHash } from 'node:crypto';
import { encodeTaskCredential } from '../../../src/auth/task-credential.codec';
import {
  SwitchyardMcpClient,
  SwitchyardToolError,
  toolValue,
} from '../../../src/mcp/client/switchyard-mcp.client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LiveTestClient } from '../../support/live-client';
import {
  ADMIN_TOKEN,
  Api,
  BIN,
  Cluster,
  type ControlPlane,
  ensureBuilt,
} from '../../support/processes';

jest.setTimeout(120_000);

const SECRET = 'mcp-e2e-task-credential-secret-0123456789abcdef';
const VIEWER = 'mcp-e2e-viewer-token-0123456789';
const AGENT = 'mcp-e2e-agent-token-0123456789';
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

function credential(claims: {
  taskId: string;
  rootTaskId?: string;
  workflowId?: string;
  expInS?: number;
}): string {
  return encodeTaskCredential(Buffer.from(SECRET), {
    taskId: claims.taskId,
    rootTaskId: claims.rootTaskId ?? claims.taskId,
    ...(claims.workflowId ? { workflowId: claims.workflowId } : {}),
    exp: Math.floor(Date.now() / 1000) + (claims.expInS ?? 600),
  });
}

async function rawMcp(url: string, token: string | undefined, body: unknown) {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const listTools = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };

/**
 * The MCP server at /mcp on two real control planes (no agents needed): auth by role, tool
 * schemas and errors as REST, task credentials scoped to their tree, state scoping, calls
 * landing on either instance.
 */
describe('MCP over Streamable HTTP (e2e, real control planes)', () => {
  const cluster = new Cluster('mcp', {
    SWITCHYARD_TASK_CREDENTIAL_SECRET: SECRET,
    SWITCHYARD_API_KEYS: JSON.stringify([
      { name: 'viewer', role: 'viewer', sha256: sha(VIEWER) },
      { name: 'agent-key', role: 'agent', sha256: sha(AGENT), agentId: 'x@w' },
    ]),
    SWITCHYARD_TASK_STATE_NAMESPACES: 'shared/',
    DELEGATION_MAX_CHILDREN: '2',
  });
  // Unique per run: state reads through to the durable store, which outlives the Redis prefix.
  const ns = `mcp-${cluster.id}`;
  const doc = `${ns}/doc`;
  let cp1: ControlPlane;
  let cp2: ControlPlane;
  let api: Api;
  const clients: SwitchyardMcpClient[] = [];
  const client = (url: string, token: string) => {
    const c = new SwitchyardMcpClient({ url, token });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    await ensureBuilt();
    [cp1, cp2] = await Promise.all([
      cluster.startControlPlane('cp1'),
      cluster.startControlPlane('cp2'),
    ]);
    api = new Api(cp1.url);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.destroy();
  });

  it('refuses a missing or wrong token and the agent role with the HTTP error, not a tool list', async () => {
    const none = await rawMcp(cp1.url, undefined, listTools);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error.code).toBe('UNAUTHENTICATED');
    const wrong = await rawMcp(cp1.url, 'not-a-key-0123456789', listTools);
    expect(wrong.status).toBe(401);
    const agent = await rawMcp(cp1.url, AGENT, listTools);
    expect(agent.status).toBe(403);
    expect(JSON.parse(agent.text).error.code).toBe('FORBIDDEN');
    const forged = await rawMcp(
      cp1.url,
      `${credential({ taskId: 'x' }).slice(0, -4)}AAAA`,
      listTools,
    );
    expect(forged.status).toBe(401);
  });

  it('lists every tool to an operator, the read-only ones to a viewer', async () => {
    const admin = await client(cp1.url, ADMIN_TOKEN).listTools();
    expect(admin.map((t) => t.name).sort()).toEqual(
      [
        'cancel_task',
        'delegate',
        'delegate_many',
        'find_agents',
        'get_task',
        'list_capabilities',
        'state_get',
        'state_list',
        'state_patch',
        'state_put',
        'wait_task',
      ].sort(),
    );
    const delegate = admin.find((t) => t.name === 'delegate')!;
    expect(delegate.inputSchema.required).toEqual(['capability']);
    expect(Object.keys(delegate.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining([
        'capability',
        'prompt',
        'payload',
        'priority',
        'timeoutSeconds',
        'wait',
      ]),
    );
    const viewer = await client(cp2.url, VIEWER).listTools();
    expect(viewer.map((t) => t.name).sort()).toEqual(
      [
        'find_agents',
        'get_task',
        'list_capabilities',
        'state_get',
        'state_list',
        'wait_task',
      ].sort(),
    );
    // A viewer calling a write tool anyway gets REST's FORBIDDEN.
    const res = await client(cp2.url, VIEWER).callRaw('state_put', {
      key: 'a/b',
      value: 1,
      ifMatch: 0,
    });
    expect(res.isError).toBe(true);
    expect((toolValue(res) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
  });

  it('validates input like REST and reports REST codes as tool errors', async () => {
    const c = client(cp1.url, ADMIN_TOKEN);
    const bad = await c.callRaw('delegate', { capability: '', priority: 99, bogus: 1 });
    expect(bad.isError).toBe(true);
    const err = (
      toolValue(bad) as { error: { code: string; details: { fields: { field: string }[] } } }
    ).error;
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details.fields.map((f) => f.field).sort()).toEqual([
      'bogus',
      'capability',
      'priority',
    ]);
    await expect(c.call('get_task', { taskId: 'no-such-task' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: "task 'no-such-task' not found",
    });
    const rest = await api.get('/v1/tasks/no-such-task');
    expect(rest.body.error.message).toBe("task 'no-such-task' not found");
  });

  it('state tools keep versions and conflicts as REST, across both instances', async () => {
    const a = client(cp1.url, ADMIN_TOKEN);
    const b = client(cp2.url, ADMIN_TOKEN);
    const put = await a.call<{ version: number }>('state_put', {
      key: doc,
      value: { n: 1 },
      ifMatch: 0,
    });
    expect(put.version).toBe(1);
    await expect(
      b.call('state_put', { key: doc, value: { n: 2 }, ifMatch: 0 }),
    ).rejects.toBeInstanceOf(SwitchyardToolError);
    const stale = await b.callRaw('state_put', { key: doc, value: { n: 2 }, ifMatch: 0 });
    const restStale = await fetch(`${cp1.url}/v1/state/${doc}`, {
      method: 'PUT',
      headers: {
        Authorization: `Bearer ${ADMIN_TOKEN}`,
        'Content-Type': 'application/json',
        'If-Match': '0',
      },
      body: JSON.stringify({ value: { n: 2 } }),
    });
    const restError = ((await restStale.json()) as { error: { code: string; message: string } })
      .error;
    const mcpError = (toolValue(stale) as { error: { code: string; message: string } }).error;
    expect(mcpError.code).toBe('PRECONDITION_FAILED');
    expect(mcpError).toMatchObject({ code: restError.code, message: restError.message });
    await b.call('state_patch', { key: doc, patch: { m: 2 }, ifMatch: 1 });
    const got = await a.call<{ version: number; value: unknown }>('state_get', { key: doc });
    expect(got).toMatchObject({ version: 2, value: { n: 1, m: 2 } });
    const list = await b.call<{ items: { key: string }[] }>('state_list', { prefix: `${ns}/` });
    expect(list.items.map((i) => i.key)).toEqual([doc]);
  });

  it('a task credential reads its own tree only (403 elsewhere, on MCP and REST)', async () => {
    const mine = await api.submit('/v1/tasks', { capability: 'nobody-has-this', payload: {} });
    const other = await api.submit('/v1/tasks', { capability: 'nobody-has-this', payload: {} });
    const token = credential({ taskId: mine.id });
    const c = client(cp2.url, token);
    const got = await c.call<{ taskId: string }>('get_task', { taskId: mine.id });
    expect(got.taskId).toBe(mine.id);
    await expect(c.call('get_task', { taskId: other.id })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const restOther = await fetch(`${cp1.url}/v1/tasks/${other.id}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(restOther.status).toBe(403);
    const restMine = await fetch(`${cp1.url}/v1/tasks/${mine.id}`, {
      headers: { 'X-Switchyard-Task-Token': token },
    });
    expect(restMine.status).toBe(200);
    // Other REST routes are closed to it.
    const list = await fetch(`${cp1.url}/v1/tasks`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(list.status).toBe(403);
    // Cancelling outside its descendants is refused.
    await expect(c.call('cancel_task', { taskId: other.id })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('a task credential uses state only under its workflow and the granted namespaces', async () => {
    const wf = await api.submit('/v1/workflows', {
      tasks: [{ ref: 'a', capability: 'nobody-has-this' }],
    });
    const taskId = (wf.tasks?.[0]?.id ?? wf.taskIds?.[0] ?? wf.workflow?.taskIds?.[0]) as string;
    expect(typeof taskId).toBe('string');
    const workflowId = (wf.id ?? wf.workflow?.id) as string;
    const c = client(cp1.url, credential({ taskId, workflowId }));
    await c.call('state_put', { key: `workflows/${workflowId}/notes`, value: 'hi', ifMatch: 0 });
    await c.call('state_put', { key: `shared/board-${cluster.id}`, value: 'ok', ifMatch: 0 });
    await expect(
      c.call('state_put', { key: 'workflows/someone-else/notes', value: 'x', ifMatch: 0 }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(c.call('state_list', { prefix: '' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const rest = await fetch(`${cp2.url}/v1/state/${doc}`, {
      headers: { Authorization: `Bearer ${credential({ taskId, workflowId })}` },
    });
    expect(rest.status).toBe(403);
  });

  it('delegation limits reach the caller as tool errors with the REST code', async () => {
    const parent = await api.submit('/v1/tasks', { capability: 'nobody-has-this', payload: {} });
    const c = client(cp1.url, credential({ taskId: parent.id }));
    for (let i = 0; i < 2; i++) {
      const child = await c.call<{ taskId: string; status: string }>('delegate', {
        capability: 'nobody-has-this',
        payload: { i },
        wait: false,
      });
      const rest = await api.get(`/v1/tasks/${child.taskId}`);
      expect(rest.body).toMatchObject({ parentTaskId: parent.id, rootTaskId: parent.id, depth: 1 });
    }
    const third = await c.callRaw('delegate', {
      capability: 'nobody-has-this',
      payload: { i: 2 },
      wait: false,
    });
    expect(third.isError).toBe(true);
    const err = (toolValue(third) as { error: { code: string; status: number } }).error;
    expect(err).toMatchObject({ code: 'DELEGATION_LIMIT', status: 422 });
    // The same refusal over REST with the same credential.
    const rest = await fetch(`${cp2.url}/v1/tasks`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${credential({ taskId: parent.id })}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ capability: 'nobody-has-this', payload: { i: 3 } }),
    });
    expect(rest.status).toBe(422);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe(
      'DELEGATION_LIMIT',
    );
    await api.post(`/v1/tasks/${parent.id}/cancel`);
  });

  it('refuses an expired credential and one whose task is terminal', async () => {
    const t = await api.submit('/v1/tasks', { capability: 'nobody-has-this', payload: {} });
    const expired = await rawMcp(cp1.url, credential({ taskId: t.id, expInS: -1 }), listTools);
    expect(expired.status).toBe(401);
    expect(JSON.parse(expired.text).error.message).toMatch(/expired/);
    const token = credential({ taskId: t.id });
    expect((await rawMcp(cp1.url, token, listTools)).status).toBe(200);
    await api.post(`/v1/tasks/${t.id}/cancel`);
    const after = await rawMcp(cp2.url, token, listTools);
    expect(after.status).toBe(401);
    expect(JSON.parse(after.text).error.message).toMatch(/CANCELLED/);
  });

  it('report_progress is for task credentials and lands on the live feed of every instance', async () => {
    const denied = await client(cp1.url, ADMIN_TOKEN).callRaw('report_progress', { message: 'hi' });
    expect((toolValue(denied) as { error: { code: string } }).error.code).toBe('FORBIDDEN');

    const t = await api.submit('/v1/tasks', { capability: 'nobody-has-this', payload: {} });
    const live = await LiveTestClient.connect(cp1.url, { token: ADMIN_TOKEN });
    try {
      await live.first('welcome');
      live.send({ type: 'subscribe', id: 'p', filters: { taskId: t.id } });
      await live.first('subscribed');
      // Reported on cp2, watched on cp1.
      await client(cp2.url, credential({ taskId: t.id })).call('report_progress', {
        message: 'halfway there',
        percent: 50,
      });
      await live.waitFor(
        () => live.events().some((e) => e.event.type === 'task.progress'),
        10_000,
        'the task.progress event',
      );
      const event = live.events().find((e) => e.event.type === 'task.progress')!.event;
      expect(event).toMatchObject({
        taskId: t.id,
        data: { message: 'halfway there', percent: 50 },
      });
    } finally {
      live.close();
      await api.post(`/v1/tasks/${t.id}/cancel`);
    }
  });

  it('switchyard mcp serves the same tools over stdio, proxied to the control plane', async () => {
    const stdio = new Client({ name: 'e2e-stdio', version: '0.0.0' });
    await stdio.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, 'mcp', '--url', cp2.url, '--token', VIEWER],
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error' },
        stderr: 'pipe',
      }),
    );
    try {
      const tools = (await stdio.listTools()).tools.map((t) => t.name).sort();
      expect(tools).toEqual(
        [
          'find_agents',
          'get_task',
          'list_capabilities',
          'state_get',
          'state_list',
          'wait_task',
        ].sort(),
      );
      const got = await stdio.callTool({ name: 'state_get', arguments: { key: doc } });
      expect(toolValue(got as never)).toMatchObject({ key: doc, value: { n: 1, m: 2 } });
      const denied = await stdio.callTool({
        name: 'state_put',
        arguments: { key: doc, value: 0, ifMatch: 2 },
      });
      expect(denied.isError).toBe(true);
      expect((toolValue(denied as never) as { error: { code: string } }).error.code).toBe(
        'FORBIDDEN',
      );
    } finally {
      await stdio.close();
    }
  });

  it('switchyard mcp with a refused token exits with an error instead of serving', async () => {
    const stdio = new Client({ name: 'e2e-stdio', version: '0.0.0' });
    await expect(
      stdio.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [BIN, 'mcp', '--url', cp1.url, '--token', 'wrong-token-0123456789'],
          env: { PATH: process.env.PATH ?? '' },
          stderr: 'pipe',
        }),
      ),
    ).rejects.toThrow();
    await stdio.close().catch(() => undefined);
  });
});
