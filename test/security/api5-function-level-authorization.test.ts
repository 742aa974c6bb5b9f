/**
 * OWASP API5:2023, broken function level authorization: the role × route matrix. Every route
 * in openapi/openapi.json is called with no token and with the token of every role; the
 * expected outcome of each pair is the table below (also in docs/SECURITY.md). A route added to
 * the spec without a row here fails the test, so the matrix cannot fall behind the API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { AGENT_ID, startSecurityApp, TOKENS, type SecurityApp } from './support/security-app';

type Caller = 'none' | 'admin' | 'operator' | 'viewer' | 'agent';
const CALLERS: Caller[] = ['none', 'admin', 'operator', 'viewer', 'agent'];
/** `ok`: authorized (any status but 401/403); `401`/`403`: refused with that status. */
type Outcome = 'ok' | 401 | 403;

const PUBLIC: Record<Caller, Outcome> = {
  none: 'ok',
  admin: 'ok',
  operator: 'ok',
  viewer: 'ok',
  agent: 'ok',
};
const READ: Record<Caller, Outcome> = {
  none: 401,
  admin: 'ok',
  operator: 'ok',
  viewer: 'ok',
  agent: 403,
};
const WRITE: Record<Caller, Outcome> = {
  none: 401,
  admin: 'ok',
  operator: 'ok',
  viewer: 403,
  agent: 403,
};
const ADMIN_ONLY: Record<Caller, Outcome> = {
  none: 401,
  admin: 'ok',
  operator: 403,
  viewer: 403,
  agent: 403,
};
const ANY_TOKEN: Record<Caller, Outcome> = {
  none: 401,
  admin: 'ok',
  operator: 'ok',
  viewer: 'ok',
  agent: 'ok',
};
/** Agent tokens act for their own agent id (the matrix calls with that id). */
const OWN_AGENT_WRITE: Record<Caller, Outcome> = { ...WRITE, agent: 'ok' };
const OWN_AGENT_READ: Record<Caller, Outcome> = { ...READ, agent: 'ok' };

/** The expected matrix: `METHOD path` (as in the spec) → outcome per caller. */
export const MATRIX: Record<string, Record<Caller, Outcome>> = {
  'GET /health/live': PUBLIC,
  'GET /health/ready': PUBLIC,
  'GET /metrics': PUBLIC,
  'GET /v1/whoami': ANY_TOKEN,
  'POST /v1/tasks': WRITE,
  'GET /v1/tasks': READ,
  'GET /v1/tasks/{id}': READ,
  'GET /v1/tasks/{id}/tree': READ,
  'GET /v1/tasks/{id}/progress': READ,
  'GET /v1/report': READ,
  'POST /v1/tasks/{id}/cancel': WRITE,
  'POST /v1/workflows': WRITE,
  'GET /v1/workflows': READ,
  'GET /v1/workflows/{id}': READ,
  'POST /v1/workflows/{id}/cancel': WRITE,
  'GET /v1/queue': READ,
  'GET /v1/queue/deadlocks': READ,
  'POST /v1/queue/deadlocks/resolve': WRITE,
  'GET /v1/queue/dead-letter': READ,
  'POST /v1/queue/dead-letter/{id}/requeue': WRITE,
  'GET /v1/circuit-breakers': READ,
  'GET /v1/circuit-breakers/{agentId}': READ,
  'POST /v1/circuit-breakers/{agentId}/reset': WRITE,
  'POST /v1/agents': OWN_AGENT_WRITE,
  'GET /v1/agents': READ,
  'GET /v1/agents/{id}': OWN_AGENT_READ,
  'DELETE /v1/agents/{id}': OWN_AGENT_WRITE,
  'POST /v1/agents/{id}/heartbeat': OWN_AGENT_WRITE,
  'GET /v1/capabilities': READ,
  'GET /v1/state': READ,
  'GET /v1/state/{path}': READ,
  'PUT /v1/state/{path}': WRITE,
  'PATCH /v1/state/{path}': WRITE,
  'DELETE /v1/state/{path}': WRITE,
  'GET /v1/state-backup': ADMIN_ONLY,
  'POST /v1/state-restore': ADMIN_ONLY,
  'POST /v1/state-sync': ADMIN_ONLY,
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

describe('API5 function level authorization: role × route matrix from the OpenAPI spec', () => {
  let t: SecurityApp;
  beforeAll(async () => {
    // Many deliberate 401s from one address: the failure limit is tested in api2.
    t = await startSecurityApp({ AUTH_FAILURE_LIMIT: '100000', METRICS_REQUIRE_AUTH: 'false' });
  });
  afterAll(() => t.destroy());

  it('has an expected row for every route in the spec, and no row for a route that is gone', () => {
    const keys = specOperations().map((o) => `${o.method} ${o.path}`);
    expect(keys.filter((k) => !(k in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((k) => !keys.includes(k))).toEqual([]);
  });

  it('every route answers every caller as the matrix says', async () => {
    const mismatches: string[] = [];
    for (const op of specOperations()) {
      const expected = MATRIX[`${op.method} ${op.path}`];
      if (!expected) continue;
      for (const caller of CALLERS) {
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
        const got = res.status === 401 || res.status === 403 ? res.status : 'ok';
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
