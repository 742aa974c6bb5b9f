import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../../src/config/load-config';
import { createApp } from '../../src/http-server/create-app';
import type { CreateTaskInput, CreateWorkflowInput } from '../../src/queue/task.schemas';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import { deleteKeys } from '../support/redis-keys';
import { type BenchOptions, type BenchReport, median, nowMs, progress, round } from '../harness';

const DEFAULT_RUNS = 10_000;
const DAG_TASKS = 1_000;
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = `bench-${randomBytes(8).toString('hex')}`;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A layered DAG: 20 ranks of 50 tasks, each depending on two tasks of the rank before. */
function bigWorkflow(n: number): CreateWorkflowInput {
  const width = 50;
  return {
    name: 'bench-dag',
    tasks: Array.from({ length: n }, (_, i) => ({
      ref: `t${i}`,
      capability: `bench-cap-${i % 7}`,
      payload: { i },
      dependsOn:
        i < width
          ? []
          : [
              ...new Set([
                `t${i - width}`,
                `t${i - width - (i % 7) < 0 ? 0 : i - width - (i % 7)}`,
              ]),
            ],
    })),
  };
}

/**
 * The console in headless Chromium: (1) the runs page with `size` runs (a fifth workflows of
 * three tasks, the rest standalone tasks) from a fresh page load to the first page rendered;
 * (2) the run page of a 1,000-task DAG from a fresh load to the graph, timeline and table drawn.
 * Both are `performance.mark`s set by the page, read as ms since navigation start. Baselines in
 * the same browser: the bare REST call behind the runs page (fetch + JSON), and dagre laying out
 * the same 1,000-node graph alone.
 */
export async function consoleScenario(options: BenchOptions): Promise<BenchReport> {
  const size = options.size ?? DEFAULT_RUNS;
  const reps = options.reps;
  if (!existsSync(CHROMIUM))
    throw new Error(`console bench needs chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  const prefix = `sybench:console:${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({
    REDIS_URL: options.redisUrl,
    AMQP_URL: options.amqpUrl,
    REDIS_KEY_PREFIX: prefix,
    BUS_TRANSPORT: 'memory',
    ORCHESTRATOR_ENABLED: 'false',
    QUEUE_MAX_WORKFLOW_TASKS: String(Math.max(DAG_TASKS, 1000)),
    LOG_LEVEL: 'warn',
    SWITCHYARD_ADMIN_TOKEN: TOKEN,
    PORT: '0',
    HOST: '127.0.0.1',
  });
  const app = await createApp({ config, bufferLogs: false });
  let browser: Browser | undefined;
  try {
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}`;
    const queue = app.get(TaskQueueService);

    progress(`seeding ${size} runs`);
    const t0 = nowMs();
    const workflows = Math.floor(size / 5);
    const standalone: CreateTaskInput[] = Array.from({ length: size - workflows }, (_, i) => ({
      capability: `bench-solo-${i % 5}`,
      description: `solo ${i}`,
      payload: { i },
    }));
    await queue.enqueueMany(standalone);
    for (let i = 0; i < workflows; i++) {
      await queue.submitWorkflow({
        name: `bench-wf-${i}`,
        tasks: [
          { ref: 'a', capability: 'bench-a' },
          { ref: 'b', capability: 'bench-b', dependsOn: ['a'] },
          { ref: 'c', capability: 'bench-c', dependsOn: ['a'] },
        ],
      });
    }
    const dag = await queue.submitWorkflow(bigWorkflow(DAG_TASKS));
    progress(`seeded in ${Math.round(nowMs() - t0)} ms; DAG workflow ${dag.workflow.id}`);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // about:blank has no localStorage: only set the token on the console's origin.
    await context.addInitScript(
      `if (location.protocol === 'http:') localStorage.setItem('switchyard.token', ${JSON.stringify(TOKEN)})`,
    );
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    const markAfterLoad = async (hash: string, mark: string, selector: string): Promise<number> => {
      await page.goto('about:blank');
      await page.goto(`${url}/${hash}`);
      await page.waitForSelector(selector, { timeout: 60_000 });
      await page.waitForFunction(
        `performance.getEntriesByName(${JSON.stringify(mark)}).length > 0`,
        undefined,
        { timeout: 60_000 },
      );
      return page.evaluate<number>(
        `performance.getEntriesByName(${JSON.stringify(mark)})[0].startTime`,
      );
    };

    // Warm-up: the browser's module cache and the server's first requests.
    await markAfterLoad('#/runs', 'console:runs-rendered', '#runs-table');
    const runsMs: number[] = [];
    const runMs: number[] = [];
    const apiMs: number[] = [];
    const layoutMs: number[] = [];
    let rows = 0;
    let nodes = 0;
    for (let r = 0; r < reps; r++) {
      runsMs.push(await markAfterLoad('#/runs', 'console:runs-rendered', '#runs-table'));
      rows = await page.locator('#runs-table tbody tr').count();
      apiMs.push(
        await page.evaluate<number>(`(async () => {
          const t = performance.now();
          const res = await fetch('/v1/workflows?kind=all&limit=50', { headers: { authorization: 'Bearer ' + localStorage.getItem('switchyard.token') } });
          await res.json();
          return performance.now() - t;
        })()`),
      );
      runMs.push(
        await markAfterLoad(`#/run/${dag.workflow.id}`, 'console:run-rendered', '#dag svg'),
      );
      nodes = await page.locator('#dag a.node').count();
      layoutMs.push(
        await page.evaluate<number>(`(async () => {
          const { default: dagre } = await import('/status-page/dagre.js');
          const res = await fetch('/v1/workflows/${dag.workflow.id}', { headers: { authorization: 'Bearer ' + localStorage.getItem('switchyard.token') } });
          const { tasks } = await res.json();
          const t = performance.now();
          const g = new dagre.graphlib.Graph();
          g.setGraph({ rankdir: 'LR', nodesep: 12, ranksep: 48, ranker: 'longest-path' });
          g.setDefaultEdgeLabel(() => ({}));
          for (const x of tasks) g.setNode(x.id, { width: 150, height: 38 });
          for (const x of tasks) for (const d of x.dependsOn) g.setEdge(d, x.id);
          dagre.layout(g, { disableOptimalOrderHeuristic: true });
          return performance.now() - t;
        })()`),
      );
      progress(
        `rep ${r + 1}: runs page ${Math.round(runsMs[r])} ms (${rows} rows), run page ${Math.round(runMs[r])} ms (${nodes} nodes)`,
      );
    }
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    if (rows === 0 || nodes !== DAG_TASKS)
      throw new Error(`rendered ${rows} rows and ${nodes} nodes`);
    const results = {
      runs_page_ms: round(median(runsMs), 1),
      run_page_1000_dag_ms: round(median(runMs), 1),
    };
    const baseline = {
      runs_page_ms: round(median(apiMs), 1),
      run_page_1000_dag_ms: round(median(layoutMs), 1),
    };
    return {
      scenario: 'console',
      size,
      reps,
      results,
      baseline,
      ratio: {
        runs_page_ms: round(results.runs_page_ms / baseline.runs_page_ms, 2),
        run_page_1000_dag_ms: round(
          results.run_page_1000_dag_ms / baseline.run_page_1000_dag_ms,
          2,
        ),
      },
      goals: {
        'runs_page_ms<=1000': results.runs_page_ms <= 1000,
        'run_page_1000_dag_ms<=2000': results.run_page_1000_dag_ms <= 2000,
      },
      conditions: {
        runs: size,
        workflows: workflows,
        standaloneTasks: size - workflows,
        dagTasks: DAG_TASKS,
        pageSize: 50,
        measured: 'performance.mark since navigation start, fresh page load, headless Chromium',
        baseline:
          'runs: fetch + JSON of the same API page in the page; run: dagre.layout of the same graph alone',
      },
    };
  } finally {
    await browser?.close();
    await app.close();
    await deleteKeys(options.redisUrl, prefix);
  }
}
