import request from 'supertest';
import { MetricsService } from '../../../src/observability/metrics.service';
import { BreakerRegistry } from '../../../src/resilience/breaker-registry.service';
import { ClusterMetricsCollector } from '../../../src/observability/collectors/cluster-metrics.collector';
import { deletePrefix } from '../../support/redis-cleanup';
import { auth, startTestApp, type TestApp, uniquePrefix } from '../../support/test-app';

/** `name{labels} value` lines of one metric family, as a map of the label text to the value. */
function samples(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out[m[2] ?? ''] = Number(m[3]);
  }
  return out;
}

describe('cluster-wide metrics and human actions (real Redis)', () => {
  const prefix = uniquePrefix('obs');
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    // Two control planes sharing one Redis prefix; no dispatching, so READY tasks stay READY.
    const env = { REDIS_KEY_PREFIX: prefix, ORCHESTRATOR_ENABLED: 'false' };
    a = await startTestApp(env);
    b = await startTestApp(env);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await deletePrefix(prefix);
  });

  const metricsText = async (t: TestApp) =>
    (await request(t.server).get('/metrics').expect(200)).text;

  it('reports the shared state, not what passed through the instance', async () => {
    await request(a.server)
      .post('/v1/agents')
      .set(auth())
      .send({ id: 'obs-builder', capabilities: ['obs-build'], maxLoad: 4, load: 1 })
      .expect((r) => expect([200, 201]).toContain(r.status));
    for (let i = 0; i < 3; i++) {
      await request(a.server)
        .post('/v1/tasks')
        .set(auth())
        .send({ capability: 'obs-review', payload: { i } })
        .expect(201);
    }
    await request(a.server)
      .post('/v1/tasks')
      .set(auth())
      .send({ capability: 'obs-build', payload: {} })
      .expect(201);

    // Both instances share prom-client's default registry in this one process: wipe it, so that
    // what b reports can only come from the shared state it reads.
    a.app.get(MetricsService).registry.resetMetrics();
    await b.app.get(ClusterMetricsCollector).refresh();
    const text = await metricsText(b);

    expect(samples(text, 'tasks_waiting')).toEqual({
      '{capability="obs-review"}': 3,
      '{capability="obs-build"}': 1,
    });
    expect(samples(text, 'capability_agents')).toMatchObject({
      '{capability="obs-review"}': 0,
      '{capability="obs-build"}': 1,
    });
    expect(samples(text, 'capability_agents_available')['{capability="obs-build"}']).toBe(1);
    expect(samples(text, 'agent_utilization')['{agent="obs-builder"}']).toBe(0.25);
    expect(samples(text, 'oldest_ready_task_age_seconds')['']).toBeGreaterThanOrEqual(0);
    expect(samples(text, 'oldest_ready_task_age_seconds')['']).toBeLessThan(60);
    expect(samples(text, 'dead_letter_size')['']).toBe(0);
    expect(samples(text, 'task_queue_size')).toMatchObject({ '{queue_name="tasks:ready"}': 4 });
    expect(samples(text, 'dependency_up')).toMatchObject({
      '{dependency="redis"}': 1,
      '{dependency="rabbitmq"}': 1,
    });
    const rtt = samples(text, 'dependency_check_seconds')['{dependency="redis"}'];
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThan(2);
  });

  it('drops an agent from agent_utilization once it leaves the registry', async () => {
    await request(a.server).delete('/v1/agents/obs-builder').set(auth()).expect(204);
    await b.app.get(ClusterMetricsCollector).refresh();
    const text = await metricsText(b);
    expect(samples(text, 'agent_utilization')['{agent="obs-builder"}']).toBeUndefined();
    // With no agent left, the capability its task waits for reports 0 agents.
    expect(samples(text, 'capability_agents')['{capability="obs-build"}']).toBe(0);
  });

  it('counts human actions only when they succeed', async () => {
    const before = samples(await metricsText(a), 'task_human_actions_total');
    const task = await request(a.server)
      .post('/v1/tasks')
      .set(auth())
      .send({ capability: 'obs-review', payload: {} })
      .expect(201);
    await request(a.server).post(`/v1/tasks/${task.body.id}/cancel`).set(auth()).expect(200);
    // Cancelling again is refused (409): not an action.
    await request(a.server).post(`/v1/tasks/${task.body.id}/cancel`).set(auth()).expect(409);
    // A breaker nobody knows is 404: not an action. One that opened and is reset is.
    await request(b.server).post('/v1/circuit-breakers/obs-unknown/reset').set(auth()).expect(404);
    const breakers = b.app.get(BreakerRegistry);
    for (let i = 0; i < 5; i++) {
      await breakers
        .fire('obs-flaky', () => Promise.reject(new Error('down')))
        .catch(() => undefined);
    }
    await request(b.server).post('/v1/circuit-breakers/obs-flaky/reset').set(auth()).expect(200);
    const after = samples(await metricsText(a), 'task_human_actions_total');
    const delta = (action: string) =>
      (after[`{action="${action}"}`] ?? 0) - (before[`{action="${action}"}`] ?? 0);
    expect(delta('cancel_task')).toBe(1);
    expect(delta('breaker_reset')).toBe(1);
    expect(delta('requeue')).toBe(0);
  });
});
