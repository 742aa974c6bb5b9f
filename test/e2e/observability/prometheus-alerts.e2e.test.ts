import { join } from 'node:path';
import request from 'supertest';
import type { AgentMessage } from '../../../src/bus/agent-message.schema';
import { MessageBus } from '../../../src/bus/message-bus';
import { DiscoveryService } from '../../../src/discovery/discovery.service';
import type { TaskResultPayload } from '../../../src/contracts/task-message.schema';
import { BreakerRegistry } from '../../../src/resilience/breaker-registry.service';
import { EmbeddedWorkerModule } from '../../../src/worker/embedded-worker.module';
import { allQueries } from '../../support/dashboard-queries';
import { requireTool } from '../../support/observability-tools';
import { sleep } from '../../support/processes';
import {
  promApi,
  startAlertmanager,
  startPrometheus,
  startWebhookReceiver,
  testAlertmanagerConfig,
  testPrometheusConfig,
  type ToolProcess,
} from '../../support/prometheus-stack';
import { deletePrefix } from '../../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../../support/test-app';

const AGENTS = join(__dirname, '..', '..', 'fixtures', 'embedded-agents');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e as Error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(250);
  }
}

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

/**
 * The whole alert path with the real tools: a control plane (with in-process agents) scraped by
 * Debian's Prometheus running the project's scrape config and alerts.yml (intervals 1 s), an agent
 * that keeps failing until its breaker opens, the alert going pending -> firing through
 * Prometheus' API, and the project's Alertmanager routing posting it to a webhook this test runs.
 */
describe('Prometheus + Alertmanager against a control plane (e2e)', () => {
  const prometheusBin = requireTool('prometheus', 'the Prometheus/Alertmanager e2e checks');
  const alertmanagerBin = requireTool(
    'prometheus-alertmanager',
    'the Prometheus/Alertmanager e2e checks',
  );
  const ready = Boolean(prometheusBin && alertmanagerBin);
  let t: TestApp;
  let prometheus: ToolProcess | undefined;
  let alertmanager: ToolProcess | undefined;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>> | undefined;

  beforeAll(async () => {
    if (!ready) return;
    t = await startTestApp(
      // A long reset timeout keeps the breaker open for the whole test.
      { BREAKER_RESET_TIMEOUT_MS: '600000', BREAKER_SYNC_INTERVAL_MS: '0' },
      [EmbeddedWorkerModule.forAgents(AGENTS)],
    );
    await t.app.listen(0, '127.0.0.1');
    const cpPort = (t.server.address() as { port: number }).port;
    webhook = await startWebhookReceiver();
    alertmanager = await startAlertmanager(testAlertmanagerConfig(webhook.url));
    prometheus = await startPrometheus(
      testPrometheusConfig({
        targets: { 'switchyard-control-plane': [`127.0.0.1:${cpPort}`] },
        alertmanager: new URL(alertmanager.url).host,
      }),
    );
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await alertmanager?.stop();
    await webhook?.close();
    if (t) {
      await t.close();
      await deletePrefix(t.prefix);
    }
  });

  const firing = async (name: string) => {
    const { alerts } = await promApi<{ alerts: PromAlert[] }>(prometheus!.url, '/api/v1/alerts');
    return alerts.filter((a) => a.labels.alertname === name);
  };

  it('scrapes the control plane with the project scrape job and loads every alert rule', async () => {
    if (!ready) return;
    const up = await until(
      'the control plane to be scraped',
      async () => {
        const r = await promApi<{
          result: { metric: Record<string, string>; value: [number, string] }[];
        }>(
          prometheus!.url,
          `/api/v1/query?query=${encodeURIComponent('up{job="switchyard-control-plane"}')}`,
        );
        return r.result.length > 0 && r.result[0].value[1] === '1' ? r.result[0] : undefined;
      },
      30_000,
    );
    expect(up.metric.job).toBe('switchyard-control-plane');
    const rules = await promApi<{ groups: { rules: { name: string; health: string }[] }[] }>(
      prometheus!.url,
      '/api/v1/rules',
    );
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name)).toEqual(
      expect.arrayContaining(['SwitchyardCircuitBreakerOpen', 'SwitchyardTaskErrorRateHigh']),
    );
    // Every rule evaluates without error against real data (health "ok" once evaluated).
    await until(
      'every rule to have been evaluated',
      async () => {
        const again = await promApi<{
          groups: { rules: { name: string; health: string; lastError?: string }[] }[];
        }>(prometheus!.url, '/api/v1/rules');
        const all = again.groups.flatMap((g) => g.rules);
        const bad = all.filter((r) => r.health === 'err');
        if (bad.length) throw new Error(JSON.stringify(bad));
        return all.every((r) => r.health === 'ok') ? true : undefined;
      },
      15_000,
    );
  }, 60_000);

  it('evaluates every PromQL query of the dashboards and alerts.yml on the real Prometheus', async () => {
    if (!ready) return;
    const failures: string[] = [];
    for (const q of allQueries().filter((x) => x.language === 'promql')) {
      try {
        await promApi(prometheus!.url, `/api/v1/query?query=${encodeURIComponent(q.expr)}`);
      } catch (e) {
        failures.push(`${q.where}: ${(e as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('fires SwitchyardCircuitBreakerOpen when an agent keeps failing, and Alertmanager delivers it', async () => {
    if (!ready) return;
    const bus = t.app.get(MessageBus);
    const discovery = t.app.get(DiscoveryService);
    // An agent that crashes on every task (an agent fault, which counts against its breaker)...
    const subs = [
      await bus.subscribe('obs-bad', async (m: AgentMessage) => {
        const reply: TaskResultPayload = {
          ok: false,
          error: { type: 'exit_nonzero', message: 'crashed', retryable: true },
        };
        await bus.sendResponse(m, {
          fromAgent: m.toAgent,
          messageType: 'response',
          payload: reply,
          attempt: m.attempt,
        });
      }),
    ];
    await discovery.register({ id: 'obs-bad', capabilities: ['obs-pool'], maxLoad: 10 });
    try {
      for (let i = 0; i < 6; i++) {
        await request(t.server)
          .post('/v1/tasks')
          .set(auth())
          .send({
            capability: 'obs-pool',
            payload: { i },
            retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 20 },
          })
          .expect(201);
      }
      const breakers = t.app.get(BreakerRegistry);
      await until(
        'the breaker of obs-bad to open',
        async () => (breakers.state('obs-bad') === 'open' ? true : undefined),
        30_000,
      );

      // pending first (for: 30s), then firing, with the annotations the runbook needs.
      const pending = await until(
        'the alert to be pending or firing',
        async () =>
          (await firing('SwitchyardCircuitBreakerOpen')).find((a) => a.labels.agent === 'obs-bad'),
        20_000,
      );
      expect(['pending', 'firing']).toContain(pending.state);
      const fired = await until(
        'the alert to fire',
        async () =>
          (await firing('SwitchyardCircuitBreakerOpen')).find(
            (a) => a.labels.agent === 'obs-bad' && a.state === 'firing',
          ),
        60_000,
      );
      expect(fired.labels.severity).toBe('warning');
      expect(fired.annotations.runbook_url).toBe('docs/RUNBOOK.md#switchyardcircuitbreakeropen');
      expect(fired.annotations.summary).toBe('Circuit breaker of agent obs-bad is open');

      // Alertmanager routed it (severity warning -> receiver "team") to the test's webhook.
      const note = await until(
        'Alertmanager to post the alert to the webhook',
        async () =>
          webhook!.received.find((n) =>
            n.body.alerts.some(
              (a) =>
                a.labels.alertname === 'SwitchyardCircuitBreakerOpen' &&
                a.labels.agent === 'obs-bad',
            ),
          ),
        30_000,
      );
      expect(note.path).toBe('/team');
      expect(note.body.receiver).toBe('team');
      expect(note.body.status).toBe('firing');
      const alert = note.body.alerts.find((a) => a.labels.agent === 'obs-bad')!;
      expect(alert.annotations.runbook_url).toBe('docs/RUNBOOK.md#switchyardcircuitbreakeropen');
      // The one control plane is up: its "down" alerts stay quiet.
      expect(await firing('SwitchyardAllControlPlanesDown')).toEqual([]);
      expect(await firing('SwitchyardControlPlaneDown')).toEqual([]);
    } finally {
      for (const s of subs) await s.cancel();
    }
  }, 150_000);
});
