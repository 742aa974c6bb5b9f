/**
 * OWASP API3:2023, broken object property level authorization: what a caller may set on an
 * object. An agent key claims only the capabilities and limits its key lists; a workerId is an
 * id (it names a bus address); bodies are strict (unknown properties are refused, never stored).
 */
import {
  AGENT_CAPABILITY,
  AGENT_ID,
  AGENT_MAX_LOAD,
  AGENT_MAX_TTL,
  OTHER_AGENT_ID,
  startSecurityApp,
  type SecurityApp,
} from './support/security-app';

describe('API3 object property level authorization', () => {
  let t: SecurityApp;
  beforeAll(async () => {
    t = await startSecurityApp();
  });
  afterAll(() => t.destroy());

  const register = (body: Record<string, unknown>) =>
    t.as('agent').post('/v1/agents', { id: AGENT_ID, capabilities: [AGENT_CAPABILITY], ...body });

  it('an agent key registers its listed capability within its limits', async () => {
    await register({ maxLoad: AGENT_MAX_LOAD, ttlSeconds: AGENT_MAX_TTL }).expect(201);
    await t
      .as('agent')
      .post(`/v1/agents/${AGENT_ID}/heartbeat`, { maxLoad: AGENT_MAX_LOAD })
      .expect(200);
  });

  it('refuses (403) a capability the key does not list, naming it', async () => {
    const res = await register({ capabilities: [AGENT_CAPABILITY, 'echo'] }).expect(403);
    expect(res.body.error).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining("'echo'"),
    });
  });

  it('refuses (403) maxLoad and ttlSeconds above the key limits, at registration and heartbeat', async () => {
    const load = await register({ maxLoad: 1_000_000 }).expect(403);
    expect(load.body.error.message).toMatch(/maxLoad 1000000 is above .* 8/);
    const ttl = await register({ ttlSeconds: 86_400 }).expect(403);
    expect(ttl.body.error.message).toMatch(/ttlSeconds/);
    await t
      .as('agent')
      .post(`/v1/agents/${AGENT_ID}/heartbeat`, { maxLoad: AGENT_MAX_LOAD + 1 })
      .expect(403);
  });

  it('an agent key that lists no capabilities cannot register at all; operators are not limited', async () => {
    await t
      .as('otherAgent')
      .post('/v1/agents', { id: OTHER_AGENT_ID, capabilities: [AGENT_CAPABILITY] })
      .expect(403);
    await t
      .as('operator')
      .post('/v1/agents', { id: 'op-made', capabilities: ['echo'], maxLoad: 1000 })
      .expect(201);
  });

  it('refuses (400) a workerId that is not an id (a # became a RabbitMQ wildcard)', async () => {
    for (const workerId of ['#', 'w.#', '*', 'a b', '../x', 'w\n1', '']) {
      const res = await t
        .as('operator')
        .post('/v1/agents', { id: 'w-agent', capabilities: ['x'], workerId })
        .expect(400);
      expect(JSON.stringify(res.body.error.details)).toContain('workerId');
    }
    await t
      .as('operator')
      .post('/v1/agents', { id: 'w-agent', capabilities: ['x'], workerId: 'host-1.pid_2' })
      .expect(201);
  });

  it('refuses (400) unknown properties on every write body (mass assignment)', async () => {
    const extra = { role: 'admin', isAdmin: true, status: 'COMPLETED', createdBy: 'admin' };
    const bodies: [string, string, Record<string, unknown>][] = [
      ['post', '/v1/agents', { id: 'ma', capabilities: ['x'] }],
      ['post', '/v1/agents/op-made/heartbeat', { load: 0 }],
      ['post', '/v1/tasks', { capability: 'x', payload: {} }],
      ['post', '/v1/workflows', { name: 'w', tasks: [{ ref: 'a', capability: 'x' }] }],
      ['put', '/v1/state/ma/doc', { value: { a: 1 } }],
    ];
    for (const [method, path, body] of bodies) {
      const client = t.as('admin');
      const send =
        method === 'put'
          ? client.put(path, { ...body, ...extra })
          : client.post(path, { ...body, ...extra });
      const res = await send;
      expect([path, res.status]).toEqual([path, 400]);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });
});
