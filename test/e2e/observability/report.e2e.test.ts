import { spawn } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { ClusterMetricsCollector } from '../../../src/observability/collectors/cluster-metrics.collector';
import { BreakerRegistry } from '../../../src/resilience/breaker-registry.service';
import { EmbeddedWorkerModule } from '../../../src/worker/embedded-worker.module';
import { BIN, ensureBuilt, ROOT, sleep } from '../../support/processes';
import { deletePrefix } from '../../support/redis-cleanup';
import { ADMIN_TOKEN, auth, startTestApp, type TestApp } from '../../support/test-app';

const AGENTS = join(ROOT, 'test', 'fixtures', 'embedded-agents');

interface Row {
  metric: string;
  value: number | null;
  met: boolean | null;
  target: string;
}

describe("the plan's report: GET /v1/report and `switchyard report` (e2e)", () => {
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    t = await startTestApp({ BREAKER_SYNC_INTERVAL_MS: '0' }, [
      EmbeddedWorkerModule.forAgents(AGENTS),
    ]);
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
    await ensureBuilt();
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    if (t) await deletePrefix(t.prefix);
  });

  const submit = async (body: Record<string, unknown>) =>
    (await request(t.server).post('/v1/tasks').set(auth()).send(body).expect(201)).body as {
      id: string;
    };
  const settle = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const r = await request(t.server).get(`/v1/tasks/${id}`).set(auth()).expect(200);
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.body.status))
        return r.body.status as string;
      await sleep(50);
    }
    throw new Error(`task ${id} did not finish`);
  };
  const rowsOf = (body: { rows: Row[] }) => Object.fromEntries(body.rows.map((r) => [r.metric, r]));

  it('reports autonomy (human actions), completions, errors, dispatch, uptime and recovery with targets', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    for (let i = 0; i < 3; i++) {
      expect(await settle((await submit({ capability: 'echo', payload: { i } })).id)).toBe(
        'COMPLETED',
      );
    }
    // Fails once with no retries left -> dead letter; a person requeues it and it completes.
    const flaky = await submit({
      capability: 'flaky',
      payload: { failTimes: 1 },
      retry: { maxRetries: 0 },
    });
    expect(await settle(flaky.id)).toBe('FAILED');
    await request(t.server)
      .post(`/v1/queue/dead-letter/${flaky.id}/requeue`)
      .set(auth())
      .expect(200);
    expect(await settle(flaky.id)).toBe('COMPLETED');
    const failer = await submit({
      capability: 'always-fails',
      payload: { retryable: false },
    });
    expect(await settle(failer.id)).toBe('FAILED');

    // A breaker that opens and is closed again: one recovery cycle.
    const breakers = t.app.get(BreakerRegistry);
    for (let i = 0; i < 5; i++) {
      await breakers
        .fire('report-agent', () => Promise.reject(new Error('down')))
        .catch(() => undefined);
    }
    expect(breakers.state('report-agent')).toBe('open');
    await sleep(50);
    await request(t.server).post('/v1/circuit-breakers/report-agent/reset').set(auth()).expect(200);

    // One collection with the agents registered: a utilization sample for the report.
    await t.app.get(ClusterMetricsCollector).refresh();
    // The breaker cycle is written by an event listener: poll until the report has it.
    const to = new Date(Date.now() + 5000).toISOString();
    const fetchReport = () =>
      request(t.server).get('/v1/report').query({ from, to }).set(auth()).expect(200);
    let res = await fetchReport();
    for (let i = 0; i < 50 && rowsOf(res.body).recovery_time_median.value === null; i++) {
      await sleep(100);
      res = await fetchReport();
    }
    const rows = rowsOf(res.body);
    expect(res.body.tasksConsidered).toBe(5);
    expect(rows.tasks_completed.value).toBe(4);
    expect(rows.autonomy).toMatchObject({ value: 0.75, met: false, target: '>= 95%' });
    expect(rows.error_rate).toMatchObject({ value: 0.2, met: false });
    expect(rows.dispatch_latency_p95.value).toEqual(expect.any(Number));
    expect(rows.dispatch_latency_p95.met).toBe(true);
    expect(rows.uptime).toMatchObject({ value: 1, met: true });
    expect(rows.agent_utilization.value).toEqual(expect.any(Number));
    expect(rows.recovery_time_median.value).toEqual(expect.any(Number));
    expect(rows.recovery_time_median.met).toBe(true);
    expect(Object.keys(rows)).toEqual([
      'autonomy',
      'tasks_completed',
      'throughput_peak',
      'dispatch_latency_p95',
      'error_rate',
      'uptime',
      'recovery_time_median',
      'agent_utilization',
    ]);
  });

  it('answers 400 naming the field for a bad period', async () => {
    const bad = await request(t.server)
      .get('/v1/report')
      .query({ from: 'last tuesday' })
      .set(auth())
      .expect(400);
    expect(bad.body.error.details.fields[0].field).toBe('from');
    const reversed = await request(t.server)
      .get('/v1/report')
      .query({ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' })
      .set(auth())
      .expect(400);
    expect(reversed.body.error.details.fields[0]).toMatchObject({ field: 'from' });
    await request(t.server).get('/v1/report').query({ week: '1' }).set(auth()).expect(400);
    await request(t.server).get('/v1/report').expect(401);
  });

  it('`switchyard report` prints the table; --week asks for the last full week', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], {
          env: { PATH: process.env.PATH ?? '', SWITCHYARD_URL: url, SWITCHYARD_TOKEN: ADMIN_TOKEN },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    const table = await run(['report']);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/autonomy\s+75\.0%\s+>= 95%\s+NO/);
    expect(table.stdout).toMatch(/tasks_completed\s+4/);
    const week = await run(['report', '--week', '--json']);
    expect(week.code).toBe(0);
    const body = JSON.parse(week.stdout) as { from: string; to: string };
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(7 * 24 * 3600 * 1000);
    expect(new Date(body.from).getUTCDay()).toBe(1);
    const both = await run(['report', '--week', '--from', '2026-01-01T00:00:00Z']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('either --week or --from/--to');
  });
});
