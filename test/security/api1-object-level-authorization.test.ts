/**
 * OWASP API1:2023, broken object level authorization. Agent tokens reach only their own agent
 * (registry routes, live feed events), never tasks or other agents; viewers read but never write
 * any object. (Tasks have no per-caller owner: operators act team-wide, see docs/SECURITY.md.)
 */
import { LiveTestClient } from '../support/live-client';
import {
  AGENT_CAPABILITY,
  AGENT_ID,
  OTHER_AGENT_ID,
  startSecurityApp,
  TOKENS,
  type SecurityApp,
} from './support/security-app';

describe('API1 object level authorization', () => {
  let t: SecurityApp;
  let url: string;
  let taskId: string;
  beforeAll(async () => {
    t = await startSecurityApp();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
    await t
      .as('operator')
      .post('/v1/agents', { id: OTHER_AGENT_ID, capabilities: ['other-cap'] })
      .expect(201);
    await t
      .as('agent')
      .post('/v1/agents', { id: AGENT_ID, capabilities: [AGENT_CAPABILITY] })
      .expect(201);
    const task = await t
      .as('operator')
      .post('/v1/tasks', { capability: 'other-cap', payload: { secret: 'other-agent-data' } })
      .expect(201);
    taskId = task.body.id as string;
  });
  afterAll(() => t.destroy());

  it('an agent token cannot read, heartbeat or deregister another agent', async () => {
    await t.as('agent').get(`/v1/agents/${OTHER_AGENT_ID}`).expect(403);
    await t.as('agent').post(`/v1/agents/${OTHER_AGENT_ID}/heartbeat`, {}).expect(403);
    await t.as('agent').delete(`/v1/agents/${OTHER_AGENT_ID}`).expect(403);
    await t
      .as('agent')
      .post('/v1/agents', { id: OTHER_AGENT_ID, capabilities: [AGENT_CAPABILITY] })
      .expect(403);
    await t.as('operator').get(`/v1/agents/${OTHER_AGENT_ID}`).expect(200);
  });

  it('an agent token reads no task, workflow or breaker', async () => {
    await t.as('agent').get(`/v1/tasks/${taskId}`).expect(403);
    await t.as('agent').get('/v1/tasks').expect(403);
    await t.as('agent').post(`/v1/tasks/${taskId}/cancel`, {}).expect(403);
    await t.as('agent').get(`/v1/circuit-breakers/${OTHER_AGENT_ID}`).expect(403);
  });

  it('a viewer reads a task but cannot cancel it or write state', async () => {
    await t.as('viewer').get(`/v1/tasks/${taskId}`).expect(200);
    await t.as('viewer').post(`/v1/tasks/${taskId}/cancel`, {}).expect(403);
    await t.as('viewer').put('/v1/state/sec/x', { value: 1 }).expect(403);
  });

  it("the live feed gives an agent token only its own agent's events", async () => {
    const c = await LiveTestClient.connect(url, { token: TOKENS.agent });
    try {
      await c.first('welcome');
      c.send({ type: 'subscribe', id: 'other', filters: { agentId: OTHER_AGENT_ID } });
      expect(await c.first('error')).toMatchObject({ code: 'FORBIDDEN' });
      c.send({ type: 'subscribe', id: 'all', filters: {} });
      const sub = await c.first('subscribed');
      expect(sub.filters).toMatchObject({ agentId: AGENT_ID });
      await t.as('operator').post(`/v1/agents/${OTHER_AGENT_ID}/heartbeat`, { load: 0 });
      await t.as('operator').delete(`/v1/agents/${OTHER_AGENT_ID}`).expect(204);
      await t.as('agent').post(`/v1/agents/${AGENT_ID}/heartbeat`, { load: 0 }).expect(200);
      await t.as('agent').delete(`/v1/agents/${AGENT_ID}`).expect(204);
      await c.waitFor(() => c.events().some((e) => e.event.agentId === AGENT_ID), 5000);
      expect(c.events().every((e) => e.event.agentId === AGENT_ID)).toBe(true);
    } finally {
      c.close();
    }
  });
});
