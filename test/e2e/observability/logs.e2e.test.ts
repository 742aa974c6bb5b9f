import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startOtlpReceiver } from '../../support/otlp-receiver';
import {
  ADMIN_TOKEN,
  Api,
  Cluster,
  ensureBuilt,
  type Proc,
  ROOT,
  sleep,
} from '../../support/processes';

// Real processes (control plane + worker) on the shared Redis and RabbitMQ of a busy machine.
jest.setTimeout(150_000);

const AGENTS = join(ROOT, 'test', 'fixtures', 'embedded-agents');

type Line = Record<string, unknown> & { msg?: string; level?: number };

/** Every JSON log line a process wrote to stdout since `start`, collected in full. */
function collect(proc: Proc): () => Line[] {
  let buf = '';
  const lines: Line[] = [];
  proc.child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const p of parts) {
      if (!p.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(p) as Line);
      } catch {
        // not a log line
      }
    }
  });
  return () => lines;
}

/**
 * Follows one task through the JSON logs of both processes (LOG_LEVEL=debug, tracing on): a REST
 * submit with the caller's `traceparent` of a `delegator` task that delegates to `echo` over MCP.
 * By `task_id`, the task shows up in the control plane (submitted, dispatched, completed) and in
 * the worker (received, finished); every such line carries the caller's `trace_id`, so the same
 * trace id ties the lines of both processes together (and the child's lines too).
 */
describe('one task through the JSON logs of control plane and worker (e2e)', () => {
  let cluster: Cluster;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: Api;
  let cpUrl: string;
  let cpLines: () => Line[];
  let workerLines: () => Line[];

  beforeAll(async () => {
    await ensureBuilt();
    otlp = await startOtlpReceiver();
    cluster = new Cluster('logs', {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_TRACES_SAMPLER_RATIO: '1',
      LOG_LEVEL: 'debug',
    });
    const cp = await cluster.startControlPlane('cp1');
    cpLines = collect(cp);
    cpUrl = cp.url;
    api = new Api(cp.url);
    const worker = await cluster.startWorker('w1', AGENTS, ['delegator', 'echo'], api, {
      SWITCHYARD_URL: cp.url,
    });
    workerLines = collect(worker);
  });

  afterAll(async () => {
    await cluster?.destroy();
    await otlp?.close();
  });

  it('finds the task by task_id in both processes, every line with the same trace_id', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await fetch(`${cpUrl}/v1/tasks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ADMIN_TOKEN}`,
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      },
      body: JSON.stringify({
        capability: 'delegation',
        payload: { capability: 'echo', payload: { hi: 1 } },
      }),
    });
    expect(res.status).toBe(201);
    const taskId = ((await res.json()) as { id: string }).id;
    const deadline = Date.now() + 60_000;
    let status = '';
    while (Date.now() < deadline) {
      status = (await api.get<{ status: string }>(`/v1/tasks/${taskId}`)).body.status;
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(status)) break;
      await sleep(200);
    }
    expect(status).toBe('COMPLETED');
    // The control plane logs the completion after recording it: give the last lines a moment.
    const has = (lines: Line[], re: RegExp) =>
      lines.some((l) => l.task_id === taskId && re.test(String(l.msg)));
    while (Date.now() < deadline && !has(cpLines(), /completed by/)) await sleep(100);

    const ofTask = (lines: Line[]) => lines.filter((l) => l.task_id === taskId);
    const cp = ofTask(cpLines());
    const worker = ofTask(workerLines());
    const show = () => JSON.stringify({ cp, worker }, null, 1).slice(0, 8000);

    // By task_id: the whole path, in both processes.
    for (const re of [
      /submitted/,
      /dispatching task .* to delegator@w1/,
      /completed by delegator@w1/,
    ])
      expect({
        re: String(re),
        found: cp.some((l) => re.test(String(l.msg))),
        lines: show(),
      }).toMatchObject({ found: true });
    for (const re of [/received by delegator@w1/, /finished in \d+ ms/])
      expect({
        re: String(re),
        found: worker.some((l) => re.test(String(l.msg))),
        lines: show(),
      }).toMatchObject({ found: true });

    // By trace_id: every line of the task carries the caller's trace id, in both processes, with
    // its agent where one is known.
    for (const l of [...cp, ...worker]) {
      expect({ msg: l.msg, trace_id: l.trace_id }).toEqual({ msg: l.msg, trace_id: traceId });
      expect(typeof l.span_id).toBe('string');
    }
    expect(worker.every((l) => l.agent_id === 'delegator@w1')).toBe(true);

    // The same trace id finds the delegated child's lines too (it joined the trace over MCP).
    const byTrace = [...cpLines(), ...workerLines()].filter((l) => l.trace_id === traceId);
    const childIds = new Set(
      byTrace
        .map((l) => l.task_id)
        .filter((id): id is string => typeof id === 'string' && id !== taskId),
    );
    expect(childIds.size).toBe(1);
    const [childId] = childIds;
    expect(cpLines().some((l) => l.task_id === childId && l.parent_task_id === taskId)).toBe(true);
    expect(
      workerLines().some((l) => l.task_id === childId && /received by echo@w1/.test(String(l.msg))),
    ).toBe(true);

    // And no line that talks about the task (its id in the message) lacks its task_id.
    const mentions = [...cpLines(), ...workerLines()].filter((l) => String(l.msg).includes(taskId));
    expect(mentions.length).toBeGreaterThan(0);
    expect(mentions.filter((l) => l.task_id !== taskId && l.parent_task_id !== taskId)).toEqual([]);
  });
});
