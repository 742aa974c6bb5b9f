import { AgentRuntime } from '../../../src/worker/agent-runtime';
import { ExecutionFailure } from '../../../src/worker/executors/execution-error';
import { workerMetrics } from '../../../src/worker/worker-metrics';
import { agentDef, testExecutorOptions } from '../../support/worker-fixtures';

/** The value of one sample of a metric in the default registry (0 when absent). */
async function value(name: string, labels: Record<string, string>, suffix = ''): Promise<number> {
  const metric = workerMetrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const full = `${name}${suffix}`;
  const hit = values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? name) === full &&
      Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return hit?.value ?? 0;
}

describe('worker metrics from the agent runtime (real executors, real child processes)', () => {
  const runtime = new AgentRuntime(
    [
      agentDef({ name: 'wm-echo', handler: 'echo', maxConcurrency: 2 }),
      agentDef({ name: 'wm-broken', handler: 'broken' }),
      agentDef({
        name: 'wm-command',
        executor: 'command',
        command: [process.execPath, '-e', 'process.stdin.pipe(process.stdout)'],
      }),
    ],
    {
      executorOptions: testExecutorOptions({
        extraHandlers: {
          broken: () => {
            throw new ExecutionFailure('validation', 'bad payload');
          },
        },
      }),
    },
  );

  it('counts executions by result and observes executor durations', async () => {
    const okBefore = await value('worker_executions_total', {
      agent: 'wm-echo',
      executor: 'builtin',
      result: 'ok',
    });
    const failBefore = await value('worker_executions_total', {
      agent: 'wm-broken',
      result: 'validation',
    });
    const countBefore = await value(
      'worker_executor_duration_seconds',
      { agent: 'wm-echo' },
      '_count',
    );
    await expect(
      runtime.run('wm-echo', { taskId: 'wm-1', attempt: 0, capability: 'x', payload: {} }),
    ).resolves.toMatchObject({ ok: true });
    await expect(
      runtime.run('wm-broken', { taskId: 'wm-2', attempt: 0, capability: 'x', payload: {} }),
    ).resolves.toMatchObject({ ok: false, error: { type: 'validation' } });
    expect(
      await value('worker_executions_total', {
        agent: 'wm-echo',
        executor: 'builtin',
        result: 'ok',
      }),
    ).toBe(okBefore + 1);
    expect(
      await value('worker_executions_total', { agent: 'wm-broken', result: 'validation' }),
    ).toBe(failBefore + 1);
    expect(await value('worker_executor_duration_seconds', { agent: 'wm-echo' }, '_count')).toBe(
      countBefore + 1,
    );
    expect(await value('worker_executions_running', { agent: 'wm-echo' })).toBe(0);
  });

  it('counts a process spawn for a command execution, none for builtin', async () => {
    const spawnsBefore = await value('worker_process_spawns_total', { executor: 'command' });
    const builtinBefore = await value('worker_process_spawns_total', { executor: 'builtin' });
    const r = await runtime.run('wm-command', {
      taskId: 'wm-3',
      attempt: 0,
      capability: 'x',
      payload: { hello: 1 },
    });
    expect(r.ok).toBe(true);
    expect(await value('worker_process_spawns_total', { executor: 'command' })).toBe(
      spawnsBefore + 1,
    );
    expect(await value('worker_process_spawns_total', { executor: 'builtin' })).toBe(builtinBefore);
  });

  it('counts a redelivery that joins the running execution', async () => {
    const before = await value('worker_duplicate_deliveries_total', { agent: 'wm-command' });
    const request = { taskId: 'wm-4', attempt: 0, capability: 'x', payload: {} };
    const [a, b] = await Promise.all([
      runtime.run('wm-command', request),
      runtime.run('wm-command', request),
    ]);
    expect(a).toBe(b);
    expect(await value('worker_duplicate_deliveries_total', { agent: 'wm-command' })).toBe(
      before + 1,
    );
  });

  it('exposes every worker metric family in the text format', async () => {
    const text = await workerMetrics.registry.metrics();
    for (const name of [
      'worker_executions_total',
      'worker_executor_duration_seconds',
      'worker_executions_running',
      'worker_duplicate_deliveries_total',
      'worker_process_spawns_total',
      'worker_executor_stalls_total',
      'worker_stream_events_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });
});
