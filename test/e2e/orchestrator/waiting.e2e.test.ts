import { join } from 'node:path';
import {
  Api,
  Cluster,
  type ControlPlane,
  E2E_AGENTS,
  ensureBuilt,
  sleep,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.
jest.setTimeout(120_000);

/**
 * No agent for a capability: the task waits (not fails) and is dispatched as soon as an agent
 * with that capability registers.
 */
describe('a task for a capability nobody has yet (e2e, real processes)', () => {
  const cluster = new Cluster('wait');
  let cp: ControlPlane;
  let api: Api;

  beforeAll(async () => {
    await ensureBuilt();
    cp = await cluster.startControlPlane('cp1', { ORCHESTRATOR_NO_AGENT_RETRY_MS: '200' });
    api = new Api(cp.url);
  });

  afterAll(async () => {
    await cluster.destroy();
  });

  it('waits with a reason while no agent has it, then completes once one registers', async () => {
    const task = await api.submit('/v1/tasks', {
      capability: 'late-capability',
      payload: { hello: 'late' },
      timeoutMs: 30_000,
    });
    expect(task.status).toMatch(/^(READY|RUNNING)$/);

    // For a few seconds: never terminal, and the record says why it waits.
    const seen = new Set<string>();
    const reasons = new Set<string>();
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const r = await api.get(`/v1/tasks/${task.id}`);
      expect(r.status).toBe(200);
      seen.add(r.body.status);
      if (r.body.reason) reasons.add(r.body.reason);
      expect(['READY', 'RUNNING']).toContain(r.body.status);
      expect(r.body.attempt).toBe(0); // waiting is not an attempt
      await sleep(150);
    }
    expect(seen.has('READY')).toBe(true);
    expect([...reasons]).toContainEqual(
      expect.stringContaining("waiting for an agent with capability 'late-capability' since "),
    );

    const registeredAt = Date.now();
    await cluster.startWorker('late-w1', join(E2E_AGENTS, 'late'), ['late'], api);
    const done = await cluster.waitFor(
      async () => {
        const r = await api.get(`/v1/tasks/${task.id}`);
        return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.body.status) ? r.body : undefined;
      },
      30_000,
      `task ${task.id} to finish after the agent registered`,
    );
    expect(done).toMatchObject({
      status: 'COMPLETED',
      agentId: 'late@late-w1',
      attempt: 0,
      result: { hello: 'late' },
    });
    // Dispatched soon after the agent appeared (retry interval 200 ms; generous for a busy box).
    expect(Date.parse(done.startedAt) - registeredAt).toBeLessThan(10_000);
    expect(await api.tasksTotal('COMPLETED')).toBe(1);
  });
});
