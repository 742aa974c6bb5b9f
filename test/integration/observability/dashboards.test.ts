import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { parse, stringify } from 'yaml';
import { ClusterMetricsCollector } from '../../../src/observability/collectors/cluster-metrics.collector';
import { EmbeddedWorkerModule } from '../../../src/worker/embedded-worker.module';
import {
  allQueries,
  DASHBOARDS_DIR,
  exposedNames,
  metricNames,
  PROMETHEUS_SERIES,
  type Query,
} from '../../support/dashboard-queries';
import { requireTool, run } from '../../support/observability-tools';
import { deletePrefix } from '../../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../../support/test-app';

const ROOT = join(__dirname, '..', '..', '..');
const AGENTS = join(ROOT, 'test', 'fixtures', 'embedded-agents');
const queries = allQueries();
const promql = queries.filter((q) => q.language === 'promql');
const logql = queries.filter((q) => q.language === 'logql');

/** Runs `promtool check rules` on the expressions, each as a recording rule; returns its output. */
async function promtoolParse(promtool: string, exprs: Query[]) {
  const dir = mkdtempSync(join(tmpdir(), 'sy-dash-'));
  try {
    const file = join(dir, 'queries.yml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: 'dashboard-queries',
            rules: exprs.map((q, i) => ({ record: `query_${i}`, expr: q.expr })),
          },
        ],
      }),
    );
    return await run(promtool, ['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('metricNames (PromQL metric extraction)', () => {
  it('finds selected metrics, not functions, labels, keywords, ranges or strings', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (agent, le) (rate(task_duration_seconds_bucket{agent=~"a|b"}[5m]))) > 30',
      ),
    ).toEqual(['task_duration_seconds_bucket']);
    expect(
      metricNames(
        'max by (capability) (tasks_waiting) > 0 and on (capability) max by (capability) (capability_agents) == 0',
      ).sort(),
    ).toEqual(['capability_agents', 'tasks_waiting']);
    expect(metricNames('sum(up{job="x"}) == 0 or absent(up{job="x"}) or vector(0)')).toEqual([
      'up',
    ]);
    expect(metricNames('avg_over_time((max(up) or vector(0))[1h:1m]) offset 5m')).toEqual(['up']);
  });
});

describe('Grafana dashboards (deploy/grafana)', () => {
  const promtool = requireTool('promtool', 'the PromQL parse checks of dashboards and rules');
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({}, [EmbeddedWorkerModule.forAgents(AGENTS)]);
  });

  afterAll(async () => {
    await t?.close();
    if (t) await deletePrefix(t.prefix);
  });

  it('has the three dashboards, each with an agent variable or its own, time range and deploy annotations', () => {
    const files = readdirSync(DASHBOARDS_DIR).sort();
    expect(files).toEqual([
      'agent-performance.json',
      'system-overview.json',
      'traces-and-logs.json',
    ]);
    const uids = new Set<string>();
    for (const f of files) {
      const d = JSON.parse(readFileSync(join(DASHBOARDS_DIR, f), 'utf8')) as {
        uid: string;
        time: { from: string };
        annotations: { list: { name: string }[] };
        panels: { id: number; title: string; description?: string; type: string }[];
      };
      uids.add(d.uid);
      expect(d.time.from).toMatch(/^now-/);
      expect(d.annotations.list.map((a) => a.name)).toEqual(
        expect.arrayContaining([
          'Deploys (tagged annotations)',
          'Restarts (control planes and workers)',
        ]),
      );
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of d.panels.filter((x) => x.type !== 'row')) {
        expect({ title: p.title, description: typeof p.description }).toEqual({
          title: p.title,
          description: 'string',
        });
      }
    }
    expect(uids.size).toBe(3);
    const agents = JSON.parse(readFileSync(join(DASHBOARDS_DIR, 'agent-performance.json'), 'utf8'));
    expect(agents.templating.list.map((v: { name: string }) => v.name)).toEqual([
      'agent',
      'agent_name',
    ]);
  });

  it('every PromQL expression of the dashboards and alerts.yml parses (promtool)', async () => {
    if (!promtool) return;
    expect(promql.length).toBeGreaterThan(40);
    const r = await promtoolParse(promtool, promql);
    if (r.code !== 0) {
      throw new Error(
        `promtool refused a query:\n${r.stdout}${r.stderr}\n` +
          promql.map((q, i) => `query_${i}: ${q.where}: ${q.expr}`).join('\n'),
      );
    }
    expect(r.stdout).toContain(`SUCCESS: ${promql.length} rules found`);
  });

  it('the parse check can fail: promtool refuses a broken expression', async () => {
    if (!promtool) return;
    const r = await promtoolParse(promtool, [
      { where: 'test', expr: 'sum(rate(tasks_total[5m])', language: 'promql' },
    ]);
    expect(r.code).not.toBe(0);
  });

  it('every metric they use is exposed by /metrics of a control plane (with in-process agents) after a workflow ran', async () => {
    const res = await request(t.server)
      .post('/v1/workflows')
      .set(auth())
      .send({
        name: 'metrics-check',
        tasks: [
          { ref: 'a', capability: 'echo', payload: { n: 1 } },
          { ref: 'b', capability: 'echo', dependsOn: ['a'], payload: { n: 2 } },
        ],
      })
      .expect(201);
    const wfId = (res.body.workflow?.id ?? res.body.id) as string;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const wf = await request(t.server).get(`/v1/workflows/${wfId}`).set(auth()).expect(200);
      if (wf.body.workflow.status === 'COMPLETED') break;
      if (Date.now() > deadline || ['FAILED', 'CANCELLED'].includes(wf.body.workflow.status)) {
        throw new Error(`workflow did not complete: ${JSON.stringify(wf.body.workflow)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await t.app.get(ClusterMetricsCollector).refresh();
    const exposed = exposedNames((await request(t.server).get('/metrics').expect(200)).text);
    const missing = promql.flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !exposed.has(n) && !PROMETHEUS_SERIES.has(n))
        .map((n) => `${n} (${q.where})`),
    );
    expect(missing).toEqual([]);
  });

  it('LogQL stream selectors use only labels promtail sets; per-task fields are structured metadata', () => {
    const promtail = parse(readFileSync(join(ROOT, 'deploy', 'loki', 'promtail.yml'), 'utf8')) as {
      scrape_configs: {
        relabel_configs: { target_label?: string }[];
        pipeline_stages: Record<string, Record<string, unknown>>[];
      }[];
    };
    const job = promtail.scrape_configs[0];
    const labels = new Set<string>([
      ...job.relabel_configs.flatMap((r) => (r.target_label ? [r.target_label] : [])),
      ...job.pipeline_stages.flatMap((s) => (s.labels ? Object.keys(s.labels) : [])),
    ]);
    const metadata = job.pipeline_stages.flatMap((s) =>
      s.structured_metadata ? Object.keys(s.structured_metadata) : [],
    );
    expect(metadata.sort()).toEqual(['agent_id', 'span_id', 'task_id', 'trace_id', 'workflow_id']);
    const lokiRules = parse(
      readFileSync(
        join(ROOT, 'deploy', 'loki', 'rules', 'fake', 'switchyard-log-alerts.yml'),
        'utf8',
      ),
    ) as {
      groups: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[];
    };
    const ruleQueries = lokiRules.groups.flatMap((g) => g.rules);
    expect(ruleQueries).toHaveLength(2);
    const runbook = readFileSync(join(ROOT, 'docs', 'RUNBOOK.md'), 'utf8');
    for (const r of ruleQueries) {
      expect(r.annotations.runbook_url).toBe(`docs/RUNBOOK.md#${r.alert.toLowerCase()}`);
      expect(runbook).toContain(`\n## ${r.alert}\n`);
    }
    const exprs = [...logql.map((q) => q.expr), ...ruleQueries.map((r) => r.expr)];
    expect(exprs.length).toBeGreaterThanOrEqual(6);
    for (const expr of exprs) {
      const selector = /\{([^}]*)\}/.exec(expr);
      expect(selector).not.toBeNull();
      for (const m of selector![1].matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) {
        expect({ expr, label: m[1], known: labels.has(m[1]) }).toEqual({
          expr,
          label: m[1],
          known: true,
        });
      }
    }
  });
});
