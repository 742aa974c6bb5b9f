import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type ReceivedSpan, startOtlpReceiver } from '../../support/otlp-receiver';
import { allQueries, exposedNames, metricNames } from '../../support/dashboard-queries';
import {
  ADMIN_TOKEN,
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
 * Traces across processes, exported over OTLP/HTTP to a receiver this test runs: a REST call
 * (carrying the test's own W3C `traceparent`) submits a `delegator` task; a worker process runs
 * it and delegates to `echo` through the control plane's MCP `delegate` tool. Everything — the
 * REST call, enqueue, dispatch (parented by the context stored on the task record), breaker,
 * bus publish/receive, the worker's execution, the MCP call, the child's enqueue, dispatch and
 * execution — is one trace with the caller's trace id, one tree across both processes.
 */
describe('traces across control plane and worker over OTLP/HTTP (e2e)', () => {
  let cluster: Cluster;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: Api;
  let cpUrl: string;
  let workerMetricsUrl: string;

  beforeAll(async () => {
    await ensureBuilt();
    otlp = await startOtlpReceiver();
    cluster = new Cluster('trace', {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_TRACES_SAMPLER_RATIO: '1',
    });
    const cp: ControlPlane = await cluster.startControlPlane('cp1');
    cpUrl = cp.url;
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

  it('one trace from the REST submit through dispatch, worker and the MCP-delegated child', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const res = await fetch(`${cpUrl}/v1/tasks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ADMIN_TOKEN}`,
        traceparent: `00-${traceId}-${callerSpanId}-01`,
      },
      body: JSON.stringify({
        capability: 'delegation',
        payload: { capability: 'echo', payload: { hi: 1 } },
      }),
    });
    expect(res.status).toBe(201);
    const parentId = ((await res.json()) as { id: string }).id;
    const deadline = Date.now() + 60_000;
    let status = '';
    while (Date.now() < deadline) {
      status = (await api.get<{ status: string }>(`/v1/tasks/${parentId}`)).body.status;
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(status)) break;
      await sleep(200);
    }
    expect(status).toBe('COMPLETED');

    // Spans arrive in batches (BatchSpanProcessor, ~5 s, each process on its own): wait until
    // the parent's reply is back and both processes' execution spans of parent and child are in.
    let trace: ReceivedSpan[] = [];
    const complete = () => {
      trace = otlp.spans.filter((s) => s.traceId === traceId);
      const workerExecs = trace.filter(
        (s) => s.service === 'switchyard-worker' && s.name === 'task_execution',
      );
      return (
        workerExecs.length >= 2 &&
        trace.some(
          (s) =>
            s.service === 'switchyard' &&
            s.name === 'message_receive' &&
            s.attributes['switchyard.message_type'] === 'response' &&
            s.attributes['task.id'] === parentId,
        )
      );
    };
    while (!complete() && Date.now() < deadline + 20_000) await sleep(250);

    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);
    const dump = () =>
      trace
        .map(
          (s) =>
            `${s.service} ${s.name} ${s.spanId}<-${s.parentSpanId} ${JSON.stringify(s.attributes)}`,
        )
        .join('\n');
    const one = (
      service: string,
      name: string,
      extra: (s: ReceivedSpan) => boolean = () => true,
    ) => {
      const hits = trace.filter((s) => s.service === service && s.name === name && extra(s));
      if (hits.length !== 1) {
        throw new Error(
          `expected one ${service} ${name} span in trace ${traceId}, got ${hits.length}:\n${dump()}`,
        );
      }
      return hits[0];
    };
    const forTask = (id: string) => (s: ReceivedSpan) => s.attributes['task.id'] === id;

    // The REST call: a server span under the caller's span, and the enqueue under it.
    const rest = one('switchyard', 'POST /v1/tasks');
    expect(rest.parentSpanId).toBe(callerSpanId);
    const enqueue = one('switchyard', 'task_enqueue', (s) => parentOf(s) === rest);
    expect(enqueue.attributes).toMatchObject({ capability: 'delegation' });

    // Dispatch of the parent: parented by the context stored on the task at enqueue.
    const dispatch = one('switchyard', 'task_execution', forTask(parentId));
    expect(parentOf(dispatch)).toBe(enqueue);
    expect(dispatch.attributes).toMatchObject({ capability: 'delegation', attempt: 0 });
    const breaker = one(
      'switchyard',
      'circuit_breaker_call',
      (s) => s.attributes['agent.id'] === 'delegator@w1',
    );
    expect(parentOf(breaker)).toBe(dispatch);
    expect(breaker.attributes).toMatchObject({ 'breaker.state': 'closed' });
    const execute = one('switchyard', 'agent_execute', forTask(parentId));
    expect(parentOf(execute)).toBe(breaker);
    expect(execute.attributes).toMatchObject({ 'agent.id': 'delegator@w1', attempt: 0 });
    const sendTask = one(
      'switchyard',
      'message_send',
      (s) => s.attributes['switchyard.message_type'] === 'task' && forTask(parentId)(s),
    );
    expect(parentOf(sendTask)).toBe(execute);

    // Worker process: message_receive(task) -> task_execution; message_send(response).
    const receiveTask = one('switchyard-worker', 'message_receive', forTask(parentId));
    expect(parentOf(receiveTask)).toBe(sendTask);
    const workerExec = one('switchyard-worker', 'task_execution', forTask(parentId));
    expect(parentOf(workerExec)).toBe(receiveTask);
    expect(workerExec.attributes).toMatchObject({ 'agent.name': 'delegator' });
    const sendReply = one('switchyard-worker', 'message_send', forTask(parentId));
    expect(parentOf(sendReply)).toBe(receiveTask);
    const receiveReply = one(
      'switchyard',
      'message_receive',
      (s) => s.attributes['switchyard.message_type'] === 'response' && forTask(parentId)(s),
    );
    expect(parentOf(receiveReply)).toBe(sendReply);

    // The MCP-delegated child: the worker's `delegate` call carries its context in `_meta`.
    const delegateCall = one(
      'switchyard',
      'mcp_tool_call',
      (s) => s.attributes['mcp.tool'] === 'delegate',
    );
    expect(parentOf(delegateCall)).toBe(workerExec);
    const childEnqueue = one('switchyard', 'task_enqueue', (s) => parentOf(s) === delegateCall);
    expect(childEnqueue.attributes).toMatchObject({ capability: 'echo' });
    const childDispatch = one(
      'switchyard',
      'task_execution',
      (s) => s.attributes.capability === 'echo',
    );
    expect(parentOf(childDispatch)).toBe(childEnqueue);
    const childId = String(childDispatch.attributes['task.id']);
    expect(childId).not.toBe(parentId);
    const childWorkerExec = one('switchyard-worker', 'task_execution', forTask(childId));
    expect(childWorkerExec.attributes).toMatchObject({ 'agent.name': 'echo' });
    // The wait_task polls of the delegating worker are in the trace too.
    expect(
      trace.some((s) => s.name === 'mcp_tool_call' && s.attributes['mcp.tool'] === 'wait_task'),
    ).toBe(true);

    // Every span of the trace hangs off the REST call: one tree, no orphans, both processes.
    for (const s of trace) {
      let cur: ReceivedSpan | undefined = s;
      for (let hops = 0; cur && cur !== rest && hops < 30; hops++) cur = parentOf(cur);
      expect({ span: `${s.service} ${s.name}`, reachesRoot: cur === rest }).toEqual({
        span: `${s.service} ${s.name}`,
        reachesRoot: true,
      });
    }
    expect(new Set(trace.map((s) => s.service))).toEqual(
      new Set(['switchyard', 'switchyard-worker']),
    );
  });

  it('a REST submit without a traceparent starts its own trace that the dispatch joins', async () => {
    const submitted = await api.post<{ id: string }>('/v1/tasks', {
      capability: 'echo',
      payload: { plain: true },
    });
    expect(submitted.status).toBe(201);
    const id = submitted.body.id;
    const deadline = Date.now() + 60_000;
    let workerExec: ReceivedSpan | undefined;
    let rest: ReceivedSpan | undefined;
    while (!(workerExec && rest) && Date.now() < deadline) {
      workerExec = otlp.spans.find(
        (s) =>
          s.service === 'switchyard-worker' &&
          s.name === 'task_execution' &&
          s.attributes['task.id'] === id,
      );
      rest = workerExec
        ? otlp.spans.find((s) => s.name === 'POST /v1/tasks' && s.traceId === workerExec!.traceId)
        : undefined;
      if (!(workerExec && rest)) await sleep(250);
    }
    expect(workerExec).toBeDefined();
    expect(rest).toBeDefined();
    expect(rest!.parentSpanId).toBeUndefined();
  });

  it("serves the worker metrics the dashboards use on the worker's /metrics (WORKER_HTTP_PORT)", async () => {
    // Runs after the tests above: the worker ran the delegator once and echo twice.
    const text = await (await fetch(workerMetricsUrl)).text();
    expect(text).toMatch(
      /worker_executions_total\{agent="delegator",executor="builtin",result="ok"\} 1/,
    );
    expect(text).toMatch(
      /worker_executor_duration_seconds_count\{agent="echo",executor="builtin"\} 2/,
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
