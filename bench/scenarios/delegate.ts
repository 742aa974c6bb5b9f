import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeTaskCredential } from '../../src/auth/task-credential.codec';
import { SwitchyardMcpClient, toolValue } from '../../src/mcp/client/switchyard-mcp.client';
import {
  type BenchOptions,
  type BenchReport,
  LatencyRecorder,
  medianOf,
  nowMs,
  progress,
  ratios,
  round,
  sleep,
} from '../harness';
import { deleteKeys } from '../support/redis-keys';
import { SwitchyardStack } from '../support/switchyard-processes';

const AGENTS = join(__dirname, '..', '..', '..', 'bench', 'delegate-agents');
const CHILD = 'bench-delegate-noop';
const PARENT = 'bench-delegate-parent';

async function mcpDelegate(client: SwitchyardMcpClient, i: number): Promise<void> {
  const res = await client.callRaw('delegate', { capability: CHILD, payload: { i }, wait: true });
  const v = toolValue(res) as { status?: string };
  if (res.isError || v.status !== 'COMPLETED')
    throw new Error(`delegate failed: ${JSON.stringify(v)}`);
}

async function restSubmitAndWait(stack: SwitchyardStack, i: number): Promise<void> {
  const res = await stack.api('POST', '/v1/tasks', { capability: CHILD, payload: { i } });
  const { id } = (await res.json()) as { id: string };
  let status = '';
  while (!['COMPLETED', 'FAILED', 'CANCELLED'].includes(status)) {
    const r = await stack.api('GET', `/v1/tasks/${id}?waitSeconds=30`);
    status = ((await r.json()) as { status: string }).status;
  }
  if (status !== 'COMPLETED') throw new Error(`REST task ${id} ended ${status}`);
}

/**
 * One open loop at `rate` alternating the two paths call by call, so both see the same load
 * (this machine is shared): MCP `delegate` (wait) — one call: child dispatched, run, completed,
 * result — and REST `POST /v1/tasks` + the long poll `GET /v1/tasks/{id}?waitSeconds=30`.
 */
async function pairedRun(
  stack: SwitchyardStack,
  client: SwitchyardMcpClient,
  rate: number,
  seconds: number,
) {
  const mcp = new LatencyRecorder();
  const rest = new LatencyRecorder();
  const total = rate * seconds * 2;
  const start = nowMs();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 500) / rate - nowMs();
    if (wait > 1) await sleep(wait);
    inflight.push(
      (async () => {
        const t0 = nowMs();
        if (i % 2 === 0) {
          await mcpDelegate(client, i);
          mcp.recordMs(nowMs() - t0);
        } else {
          await restSubmitAndWait(stack, i);
          rest.recordMs(nowMs() - t0);
        }
      })(),
    );
  }
  await Promise.all(inflight);
  return {
    ours: { delegate_p50_ms: mcp.percentileMs(50), delegate_p99_ms: mcp.percentileMs(99) },
    base: { rest_p50_ms: rest.percentileMs(50), rest_p99_ms: rest.percentileMs(99) },
  };
}

/**
 * 100 live parent tasks, each with its task credential, delegate 10 children at once with
 * `delegate_many`: 1,000 concurrent delegations, all must complete.
 */
async function fanOut(stack: SwitchyardStack, secret: string, parents: number, perParent: number) {
  const ids: string[] = [];
  for (let p = 0; p < parents; p++) {
    const res = await stack.api('POST', '/v1/tasks', {
      capability: PARENT,
      payload: { ms: 600_000 },
      timeoutMs: 900_000,
    });
    ids.push(((await res.json()) as { id: string }).id);
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await stack.api('GET', `/v1/tasks?capability=${PARENT}&status=RUNNING&limit=1000`);
    const running = ((await res.json()) as { items: unknown[] }).items.length;
    if (running >= parents) break;
    if (Date.now() > deadline) throw new Error(`only ${running}/${parents} parents running`);
    await sleep(100);
  }
  const clients = ids.map(
    (id) =>
      new SwitchyardMcpClient({
        url: stack.url,
        token: encodeTaskCredential(Buffer.from(secret), {
          taskId: id,
          rootTaskId: id,
          exp: Math.floor(Date.now() / 1000) + 600,
        }),
      }),
  );
  try {
    const t0 = nowMs();
    const outcomes = await Promise.all(
      clients.map(async (c, p) => {
        const res = await c.callRaw('delegate_many', {
          tasks: Array.from({ length: perParent }, (_, k) => ({
            capability: CHILD,
            payload: { p, k },
          })),
        });
        const v = toolValue(res) as { results: { status: string }[] };
        return v.results.filter((r) => r.status === 'COMPLETED').length;
      }),
    );
    const completed = outcomes.reduce((a, b) => a + b, 0);
    return { fanout_completed: completed, fanout_seconds: round((nowMs() - t0) / 1000, 2) };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    for (const id of ids) await stack.api('POST', `/v1/tasks/${id}/cancel`).catch(() => undefined);
  }
}

/**
 * `npm run bench -- delegate`: MCP `delegate` of a no-op child (call → child runs on a worker →
 * result back) at a fixed rate, against REST submit + long-poll wait of the same task, in the
 * same run on the same stack; then 1,000 concurrent delegations from 100 parents.
 */
export async function delegateScenario(opts: BenchOptions): Promise<BenchReport> {
  const rate = Number(opts.flags.rate ?? 10);
  const seconds = Number(opts.flags.seconds ?? 5);
  const parents = Number(opts.flags.parents ?? 100);
  const perParent = Number(opts.flags['per-parent'] ?? 10);
  const secret = randomBytes(32).toString('hex');
  const stack = new SwitchyardStack(opts.redisUrl, opts.amqpUrl, {
    ORCHESTRATOR_CONCURRENCY: '1024',
    SWITCHYARD_TASK_CREDENTIAL_SECRET: secret,
    DELEGATION_MAX_CHILDREN: String(Math.max(50, perParent)),
  });
  const ours: Record<string, number>[] = [];
  const base: Record<string, number>[] = [];
  let fan: Record<string, number> = {};
  try {
    progress('starting a control plane and a worker process');
    await stack.startControlPlane();
    await stack.startWorker(AGENTS, 'bench-delegate-worker');
    await stack.waitForAgents(CHILD, 1);
    await stack.waitForAgents(PARENT, 1);
    const client = new SwitchyardMcpClient({ url: stack.url, token: stack.token });
    try {
      progress('warm-up');
      await pairedRun(stack, client, rate, 1);
      for (let r = 0; r < opts.reps; r++) {
        progress(`rep ${r + 1}/${opts.reps}: MCP delegate and REST submit + wait, interleaved`);
        const run = await pairedRun(stack, client, rate, seconds);
        ours.push(run.ours);
        base.push(run.base);
        progress(`  mcp ${JSON.stringify(run.ours)} rest ${JSON.stringify(run.base)}`);
      }
    } finally {
      await client.close();
    }
    progress(`fan-out: ${parents} parents × ${perParent} children with delegate_many`);
    fan = await fanOut(stack, secret, parents, perParent);
    progress(`  ${JSON.stringify(fan)}`);
  } finally {
    await stack.stop();
    await deleteKeys(opts.redisUrl, stack.prefix);
  }
  const results = { ...medianOf(ours), ...fan };
  const baseline = medianOf(base);
  const overhead = (results.delegate_p50_ms ?? Infinity) - (baseline.rest_p50_ms ?? 0);
  return {
    scenario: 'delegate',
    size: rate * seconds,
    reps: opts.reps,
    results: { ...results, overhead_p50_ms: round(overhead, 3) },
    baseline,
    ratio: ratios(
      { p50: results.delegate_p50_ms ?? NaN, p99: results.delegate_p99_ms ?? NaN },
      { p50: baseline.rest_p50_ms ?? NaN, p99: baseline.rest_p99_ms ?? NaN },
      ['p50', 'p99'],
    ),
    goals: {
      'overhead_p50_ms<=2': overhead <= 2,
      [`fanout_${parents * perParent}_all_completed`]:
        results.fanout_completed === parents * perParent,
    },
    conditions: {
      path: 'MCP tools/call delegate (Streamable HTTP, stateless, one client) → child task (queue) → dispatch over RabbitMQ → worker (builtin noop) → completion → event-driven wait → tool result',
      baseline:
        'POST /v1/tasks + GET /v1/tasks/{id}?waitSeconds=30 (long poll) with the same token, same stack',
      arrival_rate_per_s_each: rate,
      samples_each: rate * seconds,
      interleaved: 'MCP and REST calls alternate in one open loop (same load for both)',
      fanout: `${parents} running parent tasks, each delegate_many of ${perParent} no-op children with its task credential, all at once`,
      processes: '1 control plane + 1 worker, bench client in a third process',
    },
  };
}
