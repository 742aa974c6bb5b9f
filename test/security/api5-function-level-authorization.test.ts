/**
 * OWASP API5:2023, broken function level authorization: the role × route matrix. Every route
 * in openapi/openapi.json is called with no token, with the token of every role and with a real
 * task credential (issued by the control plane to a RUNNING task, as agents get it); the
 * expected outcome of each pair is the table below (also in docs/SECURITY.md). A route added to
 * the spec without a row here fails the test, so the matrix cannot fall behind the API.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { AgentMessage } from '../../src/bus/agent-message.schema';
import { MessageBus } from '../../src/bus/message-bus';
import type { TaskMessagePayload } from '../../src/contracts/task-message.schema';
import {
  AGENT_CAPABILITY,
  AGENT_ID,
  startSecurityApp,
  TOKENS,
  type SecurityApp,
} from './support/security-app';

type Caller = 'none' | 'admin' | 'operator' | 'viewer' | 'agent' | 'task';
const CALLERS: Caller[] = ['none', 'admin', 'operator', 'viewer', 'agent', 'task'];
/** `ok`: authorized (any status but 401/403); `401`/`403`: refused with that status. */
type Outcome = 'ok' | 401 | 403;
/**
 * A task credential's outcome can depend on the object: `own` is the call on its own scope
 * (its task or tree, a child it created, its workflow's state), `other` the same call on
 * another tree's task or a state key outside its workflow.
 */
interface Scoped {
  own: Outcome;
  other: Outcome;
}
type Row = Record<Exclude<Caller, 'task'>, Outcome> & { task: Outcome | Scoped };

const PUBLIC = { none: 'ok', admin: 'ok', operator: 'ok', viewer: 'ok', agent: 'ok' } as const;
const READ = { none: 401, admin: 'ok', operator: 'ok', viewer: 'ok', agent: 403 } as const;
const WRITE = { none: 401, admin: 'ok', operator: 'ok', viewer: 403, agent: 403 } as const;
const ADMIN_ONLY = { none: 401, admin: 'ok', operator: 403, viewer: 403, agent: 403 } as const;
const ANY_TOKEN = { none: 401, admin: 'ok', operator: 'ok', viewer: 'ok', agent: 'ok' } as const;
/** Agent tokens act for their own agent id (the matrix calls with that id). */
const OWN_AGENT_WRITE = { ...WRITE, agent: 'ok' } as const;
const OWN_AGENT_READ = { ...READ, agent: 'ok' } as const;

/**
 * The task column (AuthGuard.checkTaskRoute + TaskScopePolicy): a task credential may create
 * children of its own task, read tasks of its own delegation tree, cancel its descendants and
 * use state under `workflows/<its workflowId>/` (plus SWITCHYARD_TASK_STATE_NAMESPACES); every
 * other route is 403 whatever the object. Public routes ignore the token.
 */
const IN_SCOPE: Scoped = { own: 'ok', other: 403 };
const REFUSED = 403;
const row = (base: Record<Exclude<Caller, 'task'>, Outcome>, task: Outcome | Scoped): Row => ({
  ...base,
  task,
});

/** The expected matrix: `METHOD path` (as in the spec) → outcome per caller. */
export const MATRIX: Record<string, Row> = {
  'GET /health/live': row(PUBLIC, 'ok'),
  'GET /health/ready': row(PUBLIC, 'ok'),
  'GET /metrics': row(PUBLIC, 'ok'),
  'GET /v1/whoami': row(ANY_TOKEN, 'ok'),
  'POST /v1/tasks': row(WRITE, IN_SCOPE), // a child of its own task; another parent is 403
  'GET /v1/tasks': row(READ, REFUSED),
  'GET /v1/tasks/{id}': row(READ, IN_SCOPE),
  'GET /v1/tasks/{id}/tree': row(READ, IN_SCOPE),
  'GET /v1/tasks/{id}/progress': row(READ, REFUSED),
  'GET /v1/report': row(READ, REFUSED),
  'POST /v1/tasks/{id}/cancel': row(WRITE, IN_SCOPE), // own = a descendant
  'POST /v1/workflows': row(WRITE, REFUSED),
  'GET /v1/workflows': row(READ, REFUSED),
  'GET /v1/workflows/{id}': row(READ, REFUSED),
  'POST /v1/workflows/{id}/cancel': row(WRITE, REFUSED),
  'GET /v1/queue': row(READ, REFUSED),
  'GET /v1/queue/deadlocks': row(READ, REFUSED),
  'POST /v1/queue/deadlocks/resolve': row(WRITE, REFUSED),
  'GET /v1/queue/dead-letter': row(READ, REFUSED),
  'POST /v1/queue/dead-letter/{id}/requeue': row(WRITE, REFUSED),
  'GET /v1/circuit-breakers': row(READ, REFUSED),
  'GET /v1/circuit-breakers/{agentId}': row(READ, REFUSED),
  'POST /v1/circuit-breakers/{agentId}/reset': row(WRITE, REFUSED),
  'POST /v1/agents': row(OWN_AGENT_WRITE, REFUSED),
  'GET /v1/agents': row(READ, REFUSED),
  'GET /v1/agents/{id}': row(OWN_AGENT_READ, REFUSED),
  'DELETE /v1/agents/{id}': row(OWN_AGENT_WRITE, REFUSED),
  'POST /v1/agents/{id}/heartbeat': row(OWN_AGENT_WRITE, REFUSED),
  'GET /v1/capabilities': row(READ, REFUSED),
  'GET /v1/state': row(READ, IN_SCOPE), // own = ?prefix=workflows/<wf>/
  'GET /v1/state/{path}': row(READ, IN_SCOPE),
  'PUT /v1/state/{path}': row(WRITE, IN_SCOPE),
  'PATCH /v1/state/{path}': row(WRITE, IN_SCOPE),
  'DELETE /v1/state/{path}': row(WRITE, IN_SCOPE),
  'GET /v1/state-backup': row(ADMIN_ONLY, REFUSED),
  'POST /v1/state-restore': row(ADMIN_ONLY, REFUSED),
  'POST /v1/state-sync': row(ADMIN_ONLY, REFUSED),
};

interface Operation {
  method: string;
  path: string;
}

function specOperations(): Operation[] {
  const spec = JSON.parse(readFileSync(join(__dirname, '../../openapi/openapi.json'), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const method of Object.keys(methods)) ops.push({ method: method.toUpperCase(), path });
  }
  return ops;
}

/** A concrete URL: agent ids are the agent token's own id, other ids are plain ids. */
function concrete(path: string): string {
  return path
    .replace('{agentId}', AGENT_ID)
    .replace('{id}', path.startsWith('/v1/agents') ? AGENT_ID : 'sec-missing-id')
    .replace('{path}', 'sec/matrix');
}

/** The objects a task credential is tried on: its own scope and another tree's. */
interface TaskFixture {
  credential: string;
  taskId: string;
  workflowId: string;
  childId: string;
  otherTaskId: string;
}

/** URL and body of a task credential's call on its own scope or on another tree's objects. */
function taskCall(
  op: Operation,
  f: TaskFixture,
  scope: keyof Scoped,
): { url: string; body: object } {
  const own = scope === 'own';
  const taskId = op.path.endsWith('/cancel') ? f.childId : f.taskId;
  const url = op.path
    .replace('{agentId}', AGENT_ID)
    .replace(
      '{id}',
      op.path.startsWith('/v1/agents')
        ? AGENT_ID
        : op.path.startsWith('/v1/workflows')
          ? f.workflowId
          : own
            ? taskId
            : f.otherTaskId,
    )
    .replace('{path}', own ? `workflows/${f.workflowId}/sec-matrix` : 'sec/matrix');
  if (op.method === 'GET' && op.path === '/v1/state') {
    return { url: `${url}?prefix=${own ? `workflows/${f.workflowId}/` : 'sec/'}`, body: {} };
  }
  if (op.method === 'POST' && op.path === '/v1/tasks') {
    return {
      url,
      body: own
        ? { capability: 'other-cap' }
        : { capability: 'other-cap', parentTaskId: f.otherTaskId },
    };
  }
  if (op.path === '/v1/agents') return { url, body: { id: AGENT_ID } };
  if (op.method === 'PUT') return { url, body: { value: 1 } };
  return { url, body: {} };
}

const outcomeOf = (status: number): Outcome => (status === 401 || status === 403 ? status : 'ok');

async function until<T>(what: string, get: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('API5 function level authorization: role × route matrix from the OpenAPI spec', () => {
  let t: SecurityApp;
  let f: TaskFixture;
  const asTask = (test: request.Test) => test.set('Authorization', `Bearer ${f.credential}`);
  beforeAll(async () => {
    // Many deliberate 401s from one address: the failure limit is tested in api2.
    t = await startSecurityApp({ AUTH_FAILURE_LIMIT: '100000', METRICS_REQUIRE_AUTH: 'false' });
    // A real task credential: the orchestrator dispatches a workflow's task to a registered
    // agent (this test, on the bus) with the credential it issued; the agent never answers, so
    // the task stays RUNNING for the whole file.
    const sent: AgentMessage[] = [];
    await t.app.get(MessageBus).subscribe(AGENT_ID, async (m) => {
      sent.push(m);
    });
    await t
      .as('agent')
      .post('/v1/agents', { id: AGENT_ID, capabilities: [AGENT_CAPABILITY] })
      .expect(201);
    const wf = await t
      .as('operator')
      .post('/v1/workflows', {
        tasks: [{ ref: 'run', capability: AGENT_CAPABILITY, timeoutMs: 600_000 }],
      })
      .expect(201);
    const taskId = wf.body.tasks[0].id as string;
    const msg = await until('the task message', () =>
      sent.find((m) => m.taskId === taskId && m.messageType === 'task'),
    );
    const credential = (msg.payload as TaskMessagePayload).credential!;
    expect(credential).toMatch(/^syt1\./);
    const running = await t.as('operator').get(`/v1/tasks/${taskId}`).expect(200);
    expect(running.body.status).toBe('RUNNING');
    // Another tree: a root and a delegated child of it, both an operator's.
    const other = await t
      .as('operator')
      .post('/v1/tasks', { id: 'sec-other-root', capability: 'other-cap' })
      .expect(201);
    await t
      .as('operator')
      .post('/v1/tasks', {
        id: 'sec-other-child',
        capability: 'other-cap',
        payload: { secret: 'other-tree-data' },
        parentTaskId: other.body.id,
      })
      .expect(201);
    f = {
      credential,
      taskId,
      workflowId: wf.body.workflow.id as string,
      childId: '',
      otherTaskId: other.body.id as string,
    };
    const child = await asTask(request(t.server).post('/v1/tasks'))
      .send({ capability: 'other-cap' })
      .expect(201);
    expect(child.body.parentTaskId).toBe(taskId);
    f.childId = child.body.id as string;
  });
  afterAll(() => t.destroy());

  it('has an expected row for every route in the spec, and no row for a route that is gone', () => {
    const keys = specOperations().map((o) => `${o.method} ${o.path}`);
    expect(keys.filter((k) => !(k in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((k) => !keys.includes(k))).toEqual([]);
  });

  it('every route answers a task credential of a RUNNING task as the task column says', async () => {
    const mismatches: string[] = [];
    for (const op of specOperations()) {
      const expected = MATRIX[`${op.method} ${op.path}`]?.task;
      if (expected === undefined) continue;
      for (const scope of ['own', 'other'] as const) {
        const { url, body } = taskCall(op, f, scope);
        const method = op.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
        let req = asTask(request(t.server)[method](url));
        if (['post', 'put', 'patch'].includes(method)) req = req.send(body);
        const res = await req;
        const want = typeof expected === 'object' ? expected[scope] : expected;
        if (outcomeOf(res.status) !== want) {
          mismatches.push(
            `${op.method} ${url} as task (${scope}): expected ${want}, got ${res.status} ${JSON.stringify(res.body.error?.message ?? '')}`,
          );
        }
        expect(res.status).toBeLessThan(500);
        if (res.status === 401 || res.status === 403) {
          expect(res.body.error.code).toBe(res.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The calls really were made by the credential of a task that is still RUNNING.
    const who = await asTask(request(t.server).get('/v1/whoami')).expect(200);
    expect(who.body).toMatchObject({ role: 'task' });
    const self = await asTask(request(t.server).get(`/v1/tasks/${f.taskId}`)).expect(200);
    expect(self.body.status).toBe('RUNNING');
  });

  it('a task credential cancels only its descendants, not its own task', async () => {
    const res = await asTask(request(t.server).post(`/v1/tasks/${f.taskId}/cancel`)).send({});
    expect(res.status).toBe(403);
  });

  it("a task credential cannot reach another tree's results through a child's dependencies", async () => {
    // A child depending on another tree's task would get that task's result as its inputs
    // (GET /v1/tasks/{child} shows them, and the agent running the child receives them).
    const res = await asTask(request(t.server).post('/v1/tasks')).send({
      capability: 'other-cap',
      dependsOn: [f.otherTaskId],
    });
    expect([res.status, res.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    // Its own tree's tasks are fine (a sibling waits for another child).
    await asTask(request(t.server).post('/v1/tasks'))
      .send({ capability: 'other-cap', payload: { n: 2 }, dependsOn: [f.childId] })
      .expect(201);
  });

  it("a task credential cannot fetch another tree's task through an idempotency key", async () => {
    // The implicit key of the other tree's delegated child: (parent, capability, payload digest).
    const key = `child:sec-other-root:other-cap:${createHash('sha256')
      .update(JSON.stringify({ secret: 'other-tree-data' }))
      .digest('base64url')}`;
    const res = await asTask(request(t.server).post('/v1/tasks'))
      .set('Idempotency-Key', key)
      .send({ capability: 'other-cap', payload: { secret: 'other-tree-data' } });
    expect(JSON.stringify(res.body)).not.toContain('other-tree-data');
    expect(res.status).toBe(403);
  });

  it('every route answers every role as the matrix says', async () => {
    const mismatches: string[] = [];
    for (const op of specOperations()) {
      const expected = MATRIX[`${op.method} ${op.path}`];
      if (!expected) continue;
      for (const caller of CALLERS) {
        if (caller === 'task') continue; // above, with objects in and out of its scope
        const url = concrete(op.path);
        const method = op.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
        let req = request(t.server)[method](url);
        if (caller !== 'none') req = req.set('Authorization', `Bearer ${TOKENS[caller]}`);
        // Bodies are empty: authorization is decided before validation, so an allowed caller
        // gets 400/404/2xx and a refused one 401/403.
        // (Registration names its agent in the body: the agent token's own id.)
        if (['post', 'put', 'patch'].includes(method)) {
          req = req.send(op.path === '/v1/agents' ? { id: AGENT_ID } : {});
        }
        const res = await req;
        const want = expected[caller];
        const got = outcomeOf(res.status);
        if (got !== want) {
          mismatches.push(
            `${op.method} ${op.path} as ${caller}: expected ${want}, got ${res.status}`,
          );
        }
        expect(res.status).toBeLessThan(500);
        if (res.status === 401 || res.status === 403) {
          expect(res.body.error.code).toBe(res.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('an agent token is refused on its own-agent routes for any other agent id', async () => {
    for (const [method, path] of [
      ['post', '/v1/agents/sec-other/heartbeat'],
      ['get', '/v1/agents/sec-other'],
      ['delete', '/v1/agents/sec-other'],
    ] as const) {
      const client = t.as('agent');
      const res = await (method === 'post' ? client.post(path, {}) : client[method](path));
      expect([path, res.status]).toEqual([path, 403]);
    }
  });
});
