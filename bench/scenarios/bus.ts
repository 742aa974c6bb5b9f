import { randomBytes, randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import type { AgentMessage, AgentMessageInput } from '../../src/bus/agent-message.schema';
import { busOptions, type BusOptions } from '../../src/bus/bus-options';
import { BusTopology } from '../../src/bus/bus-topology';
import { RabbitMqMessageBus } from '../../src/bus/rabbitmq.transport';
import { MetricsService } from '../../src/observability/metrics.service';
import { setupTracing } from '../../src/observability/tracing';
import {
  type BenchOptions,
  type BenchReport,
  medianOf,
  nowMs,
  openLoop,
  progress,
  ratios,
  round,
} from '../harness';

/**
 * `npm run bench -- bus`: our RabbitMQ transport against bare amqplib doing the same work in the
 * same run (same broker, same queue arguments, persistent messages, publisher confirms, manual
 * acks, `noDelay` sockets). See shared/BENCHMARKS.md.
 *
 *  - publish_per_s: persistent publishes with confirms, 500 in flight (raw: batches of 500 +
 *    waitForConfirms), closed loop;
 *  - consume_per_s: drain the pre-filled queue, consume + ack, prefetch 200;
 *  - rpc_p50_ms / rpc_p99_ms: request → responder → response round trip, open loop at a fixed
 *    rate, requester and responder on separate connections;
 *  - agents_tasks_per_s: 10 agents (one connection each) sending each other tasks.
 */

const BATCH = 500;
const CONSUME_PREFETCH = 200;
const AGENTS = 10;
const TTL_MS = 43_200_000;
const EXPIRES_MS = 86_400_000;

interface SideResult {
  publish_per_s: number;
  consume_per_s: number;
  rpc_p50_ms: number;
  rpc_p99_ms: number;
  agents_tasks_per_s: number;
}

interface Params {
  size: number;
  rpcCount: number;
  rpcRate: number;
  agentTasks: number;
  url: string;
}

function makeBody(i: number, toAgent: string): { id: string; body: AgentMessageInput } {
  const id = randomUUID();
  return {
    id,
    body: {
      fromAgent: 'bench-sender',
      toAgent,
      taskId: `task-${i}`,
      messageType: 'task',
      payload: { i, text: 'lorem ipsum dolor sit amet, consectetur adipiscing elit', n: [1, 2, 3] },
      priority: ((i % 11) + 11) % 11,
    },
  };
}

// ------------------------------------------------------------------------------------- ours

async function runOurs(p: Params, namespace: string): Promise<SideResult> {
  const metrics = new MetricsService();
  const opts = (instanceId: string): BusOptions =>
    busOptions({
      amqpUrl: p.url,
      namespace,
      instanceId,
      metrics,
      maxPendingPublishes: 100_000,
      publishTimeoutMs: 30_000,
    });
  const buses: RabbitMqMessageBus[] = [];
  const bus = async (id: string) => {
    const b = new RabbitMqMessageBus(opts(id));
    buses.push(b);
    await b.connect(10_000);
    return b;
  };
  try {
    const main = await bus('bench-main');

    // publish
    const t0 = nowMs();
    for (let i = 0; i < p.size; i += BATCH) {
      const n = Math.min(BATCH, p.size - i);
      await Promise.all(
        Array.from({ length: n }, (_, k) => {
          const { id, body } = makeBody(i + k, 'sink');
          return main.sendTask({ ...body, id });
        }),
      );
    }
    const publishPerS = p.size / ((nowMs() - t0) / 1000);

    // consume + ack
    let consumed = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    const t1 = nowMs();
    const sub = await main.subscribe(
      'sink',
      async () => {
        if (++consumed === p.size) done();
      },
      { prefetch: CONSUME_PREFETCH },
    );
    await all;
    const consumePerS = p.size / ((nowMs() - t1) / 1000);
    await sub.cancel();

    // request/response
    const responder = await bus('bench-responder');
    await responder.subscribe('responder', async (m) => {
      await responder.sendResponse(m, {
        fromAgent: 'responder',
        messageType: 'response',
        payload: { ok: true },
      });
    });
    const rpc = (i: number) =>
      main.request({
        fromAgent: 'bench-requester',
        toAgent: 'responder',
        messageType: 'task',
        payload: { i },
      });
    const latency = await openLoop(p.rpcCount, p.rpcRate, rpc, {
      warmup: Math.max(50, Math.floor(p.rpcCount / 10)),
    });

    // 10 agents
    const agents = await Promise.all(
      Array.from({ length: AGENTS }, (_, a) => bus(`bench-agent-${a}`)),
    );
    let received = 0;
    let allReceived!: () => void;
    const agentsDone = new Promise<void>((r) => {
      allReceived = r;
    });
    await Promise.all(
      agents.map((b, a) =>
        b.subscribe(`agent-${a}`, async () => {
          if (++received === p.agentTasks) allReceived();
        }),
      ),
    );
    const perAgent = Math.floor(p.agentTasks / AGENTS);
    const t2 = nowMs();
    await Promise.all(
      agents.map(async (b, a) => {
        for (let i = 0; i < perAgent; i += 100) {
          const n = Math.min(100, perAgent - i);
          await Promise.all(
            Array.from({ length: n }, (_, k) =>
              b.sendTask({
                fromAgent: `agent-${a}`,
                toAgent: `agent-${(a + 1 + ((i + k) % (AGENTS - 1))) % AGENTS}`,
                messageType: 'task',
                payload: { i: i + k },
              }),
            ),
          );
        }
      }),
    );
    await agentsDone;
    const agentsPerS = p.agentTasks / ((nowMs() - t2) / 1000);

    return {
      publish_per_s: round(publishPerS, 0),
      consume_per_s: round(consumePerS, 0),
      rpc_p50_ms: latency.percentileMs(50),
      rpc_p99_ms: latency.percentileMs(99),
      agents_tasks_per_s: round(agentsPerS, 0),
    };
  } finally {
    await Promise.all(buses.map((b) => b.close()));
  }
}

// ------------------------------------------------------------------------------- bare amqplib

async function rawConnect(url: string): Promise<amqp.ChannelModel> {
  return amqp.connect(url, { noDelay: true });
}

async function rawDeclareAgentQueue(ch: amqp.Channel, t: BusTopology, agent: string) {
  await ch.assertQueue(t.agentQueue(agent), {
    durable: true,
    maxPriority: 10,
    expires: EXPIRES_MS,
    messageTtl: TTL_MS,
    deadLetterExchange: t.deadLetterExchange,
  });
  await ch.bindQueue(t.agentQueue(agent), t.tasksExchange, t.taskRoutingKey(agent));
}

/**
 * The same AMQP message our transport sends: persistent, mandatory, the same properties and a W3C
 * `traceparent` header (the broker's per-message cost depends on them, so the baseline carries
 * them too).
 */
function rawPublishOptions(id: string, priority: number): amqp.Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    messageId: id,
    correlationId: id,
    priority,
    type: 'task',
    appId: 'switchyard',
    timestamp: Math.floor(Date.now() / 1000),
    headers: {
      traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
    },
  };
}

function rawMessage(i: number, toAgent: string): { id: string; buf: Buffer; priority: number } {
  const { id, body } = makeBody(i, toAgent);
  const msg = {
    id,
    ...body,
    correlationId: id,
    timestamp: new Date().toISOString(),
    attempt: 0,
  };
  return { id, buf: Buffer.from(JSON.stringify(msg)), priority: msg.priority ?? 5 };
}

async function runRaw(p: Params, namespace: string): Promise<SideResult> {
  const t = new BusTopology(namespace);
  const conns: amqp.ChannelModel[] = [];
  const connect = async () => {
    const c = await rawConnect(p.url);
    conns.push(c);
    return c;
  };
  try {
    const conn = await connect();
    const pub = await conn.createConfirmChannel();
    await pub.assertExchange(t.tasksExchange, 'topic', { durable: true });
    await pub.assertExchange(t.responsesExchange, 'direct', { durable: true });
    await pub.assertExchange(t.deadLetterExchange, 'topic', { durable: true });
    await rawDeclareAgentQueue(pub, t, 'sink');

    // publish
    const t0 = nowMs();
    for (let i = 0; i < p.size; i += BATCH) {
      const n = Math.min(BATCH, p.size - i);
      for (let k = 0; k < n; k++) {
        const m = rawMessage(i + k, 'sink');
        pub.publish(
          t.tasksExchange,
          t.taskRoutingKey('sink'),
          m.buf,
          rawPublishOptions(m.id, m.priority),
        );
      }
      await pub.waitForConfirms();
    }
    const publishPerS = p.size / ((nowMs() - t0) / 1000);

    // consume + ack
    const cch = await conn.createChannel();
    await cch.prefetch(CONSUME_PREFETCH);
    let consumed = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    const t1 = nowMs();
    const { consumerTag } = await cch.consume(t.agentQueue('sink'), (msg) => {
      if (!msg) return;
      JSON.parse(msg.content.toString('utf8'));
      cch.ack(msg);
      if (++consumed === p.size) done();
    });
    await all;
    const consumePerS = p.size / ((nowMs() - t1) / 1000);
    await cch.cancel(consumerTag);

    // request/response: requester and responder on their own connections
    const replyName = 'raw-requester';
    const reqConn = await connect();
    const reqPub = await reqConn.createConfirmChannel();
    const reqSub = await reqConn.createChannel();
    await reqSub.assertQueue(t.responseQueue(replyName), { durable: true, expires: 1_800_000 });
    await reqSub.bindQueue(
      t.responseQueue(replyName),
      t.responsesExchange,
      t.responseRoutingKey(replyName),
    );
    await rawDeclareAgentQueue(reqSub, t, 'responder');
    await reqSub.prefetch(200);
    const waiting = new Map<string, () => void>();
    await reqSub.consume(t.responseQueue(replyName), (msg) => {
      if (!msg) return;
      JSON.parse(msg.content.toString('utf8'));
      reqSub.ack(msg);
      const w = waiting.get(msg.properties.correlationId as string);
      waiting.delete(msg.properties.correlationId as string);
      w?.();
    });
    const resConn = await connect();
    const resPub = await resConn.createConfirmChannel();
    const resSub = await resConn.createChannel();
    await resSub.prefetch(50);
    await resSub.consume(t.agentQueue('responder'), (msg) => {
      if (!msg) return;
      const req = JSON.parse(msg.content.toString('utf8')) as AgentMessage;
      const id = randomUUID();
      const body = Buffer.from(
        JSON.stringify({
          id,
          fromAgent: 'responder',
          toAgent: req.fromAgent,
          messageType: 'response',
          payload: { ok: true },
          correlationId: req.correlationId,
          timestamp: new Date().toISOString(),
          priority: 5,
          attempt: 0,
        }),
      );
      resPub.publish(
        t.responsesExchange,
        msg.properties.replyTo as string,
        body,
        { ...rawPublishOptions(id, 5), correlationId: req.correlationId, mandatory: true },
        () => resSub.ack(msg),
      );
    });
    const rpc = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const m = rawMessage(i, 'responder');
        waiting.set(m.id, resolve);
        reqPub.publish(
          t.tasksExchange,
          t.taskRoutingKey('responder'),
          m.buf,
          {
            ...rawPublishOptions(m.id, m.priority),
            replyTo: t.responseRoutingKey(replyName),
            mandatory: true,
          },
          (err: unknown) => {
            if (err) reject(err instanceof Error ? err : new Error('publish not confirmed'));
          },
        );
      });
    const latency = await openLoop(p.rpcCount, p.rpcRate, rpc, {
      warmup: Math.max(50, Math.floor(p.rpcCount / 10)),
    });

    // 10 agents
    const agentChans = await Promise.all(
      Array.from({ length: AGENTS }, async (_, a) => {
        const c = await connect();
        const pubCh = await c.createConfirmChannel();
        const subCh = await c.createChannel();
        await rawDeclareAgentQueue(subCh, t, `agent-${a}`);
        await subCh.prefetch(50);
        return { pubCh, subCh };
      }),
    );
    let received = 0;
    let allReceived!: () => void;
    const agentsDone = new Promise<void>((r) => {
      allReceived = r;
    });
    await Promise.all(
      agentChans.map(({ subCh }, a) =>
        subCh.consume(t.agentQueue(`agent-${a}`), (msg) => {
          if (!msg) return;
          JSON.parse(msg.content.toString('utf8'));
          subCh.ack(msg);
          if (++received === p.agentTasks) allReceived();
        }),
      ),
    );
    const perAgent = Math.floor(p.agentTasks / AGENTS);
    const t2 = nowMs();
    await Promise.all(
      agentChans.map(async ({ pubCh }, a) => {
        for (let i = 0; i < perAgent; i += 100) {
          const n = Math.min(100, perAgent - i);
          for (let k = 0; k < n; k++) {
            const to = `agent-${(a + 1 + ((i + k) % (AGENTS - 1))) % AGENTS}`;
            const m = rawMessage(i + k, to);
            pubCh.publish(t.tasksExchange, t.taskRoutingKey(to), m.buf, rawPublishOptions(m.id, 5));
          }
          await pubCh.waitForConfirms();
        }
      }),
    );
    await agentsDone;
    const agentsPerS = p.agentTasks / ((nowMs() - t2) / 1000);

    return {
      publish_per_s: round(publishPerS, 0),
      consume_per_s: round(consumePerS, 0),
      rpc_p50_ms: latency.percentileMs(50),
      rpc_p99_ms: latency.percentileMs(99),
      agents_tasks_per_s: round(agentsPerS, 0),
    };
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  }
}

async function cleanup(url: string, namespace: string, agentQueues: string[]): Promise<void> {
  const t = new BusTopology(namespace);
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const queues = [
      t.orchestratorQueue,
      t.parkingQueue,
      ...agentQueues.flatMap((a) => [t.agentQueue(a), t.responseQueue(a)]),
    ];
    for (const q of queues) await ch.deleteQueue(q);
    for (const x of [
      t.tasksExchange,
      t.broadcastsExchange,
      t.responsesExchange,
      t.deadLetterExchange,
    ]) {
      await ch.deleteExchange(x);
    }
    await ch.close();
  } finally {
    await conn.close();
  }
}

export async function busScenario(options: BenchOptions): Promise<BenchReport> {
  // The real path runs with tracing on (spans get ids, traceparent is propagated).
  setupTracing({ serviceName: 'switchyard-bench', sampleRatio: 1 });
  const size = options.size ?? 20_000;
  const p: Params = {
    size,
    rpcCount: Number(options.flags.rpc ?? 1000),
    rpcRate: Number(options.flags.rate ?? 200),
    agentTasks: Math.min(size, 10_000),
    url: options.amqpUrl,
  };
  const names = [
    'sink',
    'responder',
    'bench-main',
    'bench-responder',
    'raw-requester',
    ...Array.from({ length: AGENTS }, (_, a) => `agent-${a}`),
    ...Array.from({ length: AGENTS }, (_, a) => `bench-agent-${a}`),
  ];
  const ours: Record<string, number>[] = [];
  const raw: Record<string, number>[] = [];
  for (let rep = 0; rep < options.reps; rep++) {
    // Alternate who goes first so neither side always gets the warmer broker.
    const order = rep % 2 === 0 ? (['raw', 'ours'] as const) : (['ours', 'raw'] as const);
    for (const side of order) {
      const ns = `sybench.${side}.${randomBytes(4).toString('hex')}.`;
      try {
        const r = side === 'ours' ? await runOurs(p, ns) : await runRaw(p, ns);
        progress(`rep ${rep + 1}/${options.reps} ${side}: ${JSON.stringify(r)}`);
        (side === 'ours' ? ours : raw).push({ ...r });
      } finally {
        await cleanup(p.url, ns, names);
      }
    }
  }
  const results = medianOf(ours);
  const baseline = medianOf(raw);
  const ratio = ratios(results, baseline, [
    'publish_per_s',
    'consume_per_s',
    'rpc_p50_ms',
    'rpc_p99_ms',
    'agents_tasks_per_s',
  ]);
  return {
    scenario: 'bus',
    size,
    reps: options.reps,
    results,
    baseline,
    ratio,
    goals: {
      'publish_ratio>=0.8': (ratio.publish_per_s ?? 0) >= 0.8,
      'rpc_p50_ms<=1.5': (results.rpc_p50_ms ?? Infinity) <= 1.5,
      'rpc_p99_ms<=5': (results.rpc_p99_ms ?? Infinity) <= 5,
    },
    conditions: {
      transport: 'rabbitmq',
      persistent: true,
      publisher_confirms: true,
      publish_in_flight: BATCH,
      consume_prefetch: CONSUME_PREFETCH,
      rpc_requests: p.rpcCount,
      rpc_rate_per_s: p.rpcRate,
      rpc_mode:
        'open loop, one request/response per arrival, requester and responder on separate connections',
      agents: AGENTS,
      agent_tasks: p.agentTasks,
      message_bytes: rawMessage(0, 'sink').buf.length,
      no_delay: true,
      tracing: 'on (no exporter)',
      baseline:
        'bare amqplib publishing the same AMQP messages (properties, traceparent header, mandatory) without validation, spans, metrics or recovery',
    },
  };
}
