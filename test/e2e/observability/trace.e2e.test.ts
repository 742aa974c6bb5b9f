import { join } from 'node:path';
import { type ReceivedSpan, startOtlpReceiver } from '../../support/otlp-receiver';
import { allQueries, exposedNames, metricNames } from '../../support/dashboard-queries';
import {
  Api,
  Cluster,
  type ControlPlane,
  ensureBuilt,
  freePort,
  ROOT,
  sleep,
} from '../../support/processes';

// Real processes (control plane + worker) on the shared Redis and RabbitMQ of a busy machine.
jest.setTimeout(150_000);

const AGENTS = join(ROOT, 'test', 'fixtures', 'embedded-agents');

/**
 * Traces across processes, exported over OTLP/HTTP to a receiver this test runs: a `delegator`
 * task on a worker process delegates to `echo`. What is asserted is what Switchyard does today:
 * each dispatch is one trace spanning the control plane and the worker (breaker call, agent
 * execution, bus publish/receive, the worker's execution, the reply). Not asserted, because the
 * code does not do it yet: the dispatch joining the trace of the REST call that enqueued the
 * task, and the delegated child (submitted over MCP/HTTP to the control plane, without a
 * traceparent) joining its parent's trace — see docs/OBSERVABILITY.md, "Traces".
 */
describe('traces across control plane and worker over OTLP/HTTP (e2e)', () => {
  let cluster: Cluster;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: Api;
  let workerMetricsUrl: string;

  beforeAll(async () => {
    await ensureBuilt();
    otlp = await startOtlpReceiver();
    cluster = new Cluster('trace', {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_TRACES_SAMPLER_RATIO: '1',
    });
    const cp: ControlPlane = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    const workerPort = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${workerPort}/metrics`;
    await cluster.startWorker('w1', AGENTS, ['delegator', 'echo'], api, {
      WORKER_HTTP_PORT: String(workerPort),
      // Delegation goes through the control plane (MCP over HTTP).
      SWITCHYARD_URL: cp.url,
    });
  });

  afterAll(async () => {
    await cluster?.destroy();
    await otlp?.close();
  });

  it('exports one trace per dispatch, parent-linked across both processes', async () => {
    const submitted = await api.post<{ id: string }>('/v1/tasks', {
      capability: 'delegation',
      payload: { capability: 'echo', payload: { hi: 1 } },
    });
    expect(submitted.status).toBe(201);
    const parentId = submitted.body.id;
    const deadline = Date.now() + 60_000;
    let status = '';
    while (Date.now() < deadline) {
      status = (await api.get<{ status: string }>(`/v1/tasks/${parentId}`)).body.status;
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(status)) break;
      await sleep(200);
    }
    expect(status).toBe('COMPLETED');

    // Spans arrive in batches (BatchSpanProcessor, ~5 s): wait for the reply's receive span.
    const find = (pred: (s: ReceivedSpan) => boolean) => otlp.spans.find(pred);
    let root: ReceivedSpan | undefined;
    let trace: ReceivedSpan[] = [];
    const complete = () => {
      root = find(
        (s) =>
          s.service === 'switchyard' &&
          s.name === 'task_execution' &&
          s.attributes['task.id'] === parentId,
      );
      trace = root ? otlp.spans.filter((s) => s.traceId === root!.traceId) : [];
      return trace.some(
        (s) =>
          s.service === 'switchyard' &&
          s.name === 'message_receive' &&
          s.attributes['switchyard.message_type'] === 'response',
      );
    };
    while (!complete() && Date.now() < deadline + 20_000) await sleep(250);
    expect(root).toBeDefined();

    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);
    const one = (
      service: string,
      name: string,
      extra: (s: ReceivedSpan) => boolean = () => true,
    ) => {
      const hits = trace.filter((s) => s.service === service && s.name === name && extra(s));
      if (hits.length !== 1) {
        throw new Error(
          `expected one ${service} ${name} span in trace ${root!.traceId}, got ${hits.length}:\n` +
            trace.map((s) => `${s.service} ${s.name} ${JSON.stringify(s.attributes)}`).join('\n'),
        );
      }
      return hits[0];
    };

    // Control plane: task_execution -> circuit_breaker_call -> agent_execute -> message_send(task)
    expect(root!.parentSpanId).toBeUndefined();
    expect(root!.attributes).toMatchObject({ capability: 'delegation' });
    const breaker = one('switchyard', 'circuit_breaker_call');
    expect(parentOf(breaker)).toBe(root);
    expect(breaker.attributes).toMatchObject({
      'agent.id': 'delegator@w1',
      'breaker.state': 'closed',
    });
    const execute = one('switchyard', 'agent_execute');
    expect(parentOf(execute)).toBe(breaker);
    expect(execute.attributes).toMatchObject({
      'agent.id': 'delegator@w1',
      'task.id': parentId,
      attempt: 0,
    });
    const sendTask = one(
      'switchyard',
      'message_send',
      (s) => s.attributes['switchyard.message_type'] === 'task',
    );
    expect(parentOf(sendTask)).toBe(execute);

    // Worker process: message_receive(task) -> task_execution
    //                                       -> message_send(response)
    const receiveTask = one('switchyard-worker', 'message_receive');
    expect(parentOf(receiveTask)).toBe(sendTask);
    const workerExec = one('switchyard-worker', 'task_execution');
    expect(parentOf(workerExec)).toBe(receiveTask);
    expect(workerExec.attributes).toMatchObject({ 'agent.name': 'delegator', 'task.id': parentId });
    const sendReply = one('switchyard-worker', 'message_send');
    expect(parentOf(sendReply)).toBe(receiveTask);

    // Back on the control plane: the reply is received under the worker's send.
    const receiveReply = one(
      'switchyard',
      'message_receive',
      (s) => s.attributes['switchyard.message_type'] === 'response',
    );
    expect(parentOf(receiveReply)).toBe(sendReply);

    // Every span of the trace hangs off the root: one tree, no orphans.
    for (const s of trace) {
      let cur: ReceivedSpan | undefined = s;
      for (let hops = 0; cur && cur !== root && hops < 20; hops++) cur = parentOf(cur);
      expect({ span: `${s.service} ${s.name}`, reachesRoot: cur === root }).toEqual({
        span: `${s.service} ${s.name}`,
        reachesRoot: true,
      });
    }
  });

  it("serves the worker metrics the dashboards use on the worker's /metrics (WORKER_HTTP_PORT)", async () => {
    // Runs after the delegating task above: the worker has executed two tasks.
    const text = await (await fetch(workerMetricsUrl)).text();
    expect(text).toMatch(
      /worker_executions_total\{agent="delegator",executor="builtin",result="ok"\} 1/,
    );
    expect(text).toMatch(
      /worker_executor_duration_seconds_count\{agent="echo",executor="builtin"\} 1/,
    );
    const exposed = exposedNames(text);
    const workerNames = new Set(
      allQueries()
        .filter((q) => q.language === 'promql')
        .flatMap((q) => metricNames(q.expr))
        .filter((n) => n.startsWith('worker_')),
    );
    expect(workerNames.size).toBeGreaterThanOrEqual(6);
    expect([...workerNames].filter((n) => !exposed.has(n))).toEqual([]);
  });
});
