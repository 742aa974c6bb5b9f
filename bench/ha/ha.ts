/**
 * `npm run test:ha`: Switchyard on highly available brokers, through a Redis failover and the loss
 * of a RabbitMQ node. Everything runs on this machine on free ports and is removed at the end (and
 * on Ctrl-C / SIGTERM / failure):
 *   - Redis master + 2 replicas (--replicas) + 3 Sentinels, AOF on
 *     (bench/support/redis-sentinel-topology.ts);
 *   - a three-node RabbitMQ cluster (bench/support/rabbitmq-cluster.ts);
 *   - 2 control planes + 2 workers from the compiled CLI, configured with REDIS_SENTINELS and
 *     AMQP_URLS + AMQP_QUEUE_TYPE=quorum (REDIS_URL names the first master, and AMQP_URL the
 *     first node for builds that do not know AMQP_URLS: they run, and do not survive the faults).
 * A steady stream of tasks and small workflows runs throughout; two writers contend for one state
 * document under the lock + fencing token (bench/ha/fenced-writers.ts). Fault schedule:
 *   1. the replicas are paused (SIGSTOP) for --replica-lag-ms, the Redis master is SIGKILLed, the
 *      replicas resumed: they have missed the master's last writes, as asynchronous replicas do,
 *      and the Sentinels promote one. The old master (AOF) is restarted --redis-restart-ms after
 *      the kill, once the promotion happened (what a supervisor does), and the Sentinels make it a
 *      replica of the new one;
 *   2. --rabbit-after seconds later, RabbitMQ node 1 (the first in AMQP_URLS, where the queues were
 *      declared) is SIGKILLed and stays dead.
 * Recovery after each fault = fault → the first probe task submitted after it has COMPLETED (so
 * submissions and completions both flow again); probes are submitted every 250 ms until one does.
 *
 * Prints progress on stderr and ONE JSON line on stdout (`HaSummary`); exits 1 when a goal fails,
 * 2 when the run itself could not be carried out.
 *
 *   npm run test:ha -- [--rate 8] [--warmup 15] [--rabbit-after 25] [--tail 15] [--settle 120]
 *                      [--replica-lag-ms 500] [--redis-restart-ms 2000] [--replicas 2]
 *                      [--keep-logs]
 * --keep-logs (or HA_KEEP_LOGS=1) keeps the temp dir (the processes' full logs in logs/, the
 * agents' executions.log) and prints its path, instead of removing it at the end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getTask,
  Owned,
  pool,
  repoRoot,
  type TaskView,
  waitAgents,
  waitReady,
  watchCompletions,
} from '../chaos/chaos';
import { exitOnSignal, runMain } from '../support/cli';
import { type RabbitCluster, startRabbitCluster } from '../support/rabbitmq-cluster';
import { RedisSentinelTopology } from '../support/redis-sentinel-topology';
import { freePort } from '../support/switchyard-processes';
import { startFencedWriters, type FencedWritersResult } from './fenced-writers';

export interface HaOptions {
  /** Submissions per second (one in five is a 3-task workflow). */
  rate: number;
  /** Seconds of steady stream before the Redis master is killed. */
  warmupSeconds: number;
  /** Seconds between the Redis master kill and the RabbitMQ node kill. */
  rabbitAfterSeconds: number;
  /** Seconds of stream after the RabbitMQ node kill. */
  tailSeconds: number;
  settleSeconds: number;
  /** The replica is paused this long before the master dies (0: no induced replication lag). */
  replicaLagMs: number;
  /** The killed master is started again this long after the kill, once a replica was promoted. */
  redisRestartMs: number;
  /**
   * Redis replicas (default 2, the recommended topology: with REDIS_MIN_REPLICAS_ACK=1 and one
   * replica, acknowledgements stop after a failover until the old master is back as a replica).
   */
  replicas: number;
  /** Keep the temp dir (full process logs, executions.log) instead of removing it at the end. */
  keepLogs?: boolean;
  log?: (line: string) => void;
}

export const HA_DEFAULTS: HaOptions = {
  rate: 8,
  warmupSeconds: 15,
  rabbitAfterSeconds: 25,
  tailSeconds: 15,
  settleSeconds: 120,
  replicaLagMs: 500,
  redisRestartMs: 2000,
  replicas: 2,
};

export interface HaSummary {
  scenario: 'ha';
  /** Tasks acknowledged by the API (standalone, workflow tasks and probes). */
  accepted: number;
  completed: number;
  failed: number;
  /** Acknowledged tasks the API no longer knows (404): lost in a failover. */
  lost: number;
  /** Acknowledged tasks not finished when the settle time ran out (stuck after a failover). */
  stuck: number;
  /** Tasks with more than one `task.completed` event on the live feed. */
  completed_twice: number;
  feed_dropped: number;
  feed_reconnects: number;
  /** Tasks whose agent ran to success more than once (at-least-once execution; informative). */
  executed_ok_twice: number;
  workflows: { accepted: number; completed: number; lost: number; stuck: number };
  /** Submissions never acknowledged within 60 s of retries (not counted as accepted). */
  submissions_given_up: number;
  submit_retries: number;
  redis_failover_recovery_ms: number | null;
  /** Kill → the Sentinels name the replica as master. */
  redis_promotion_ms: number | null;
  rabbit_node_kill_recovery_ms: number | null;
  stale_fenced_writes: number | null;
  fenced_writers: FencedWritersResult | null;
  topology: {
    redis: string;
    rabbit_nodes: number;
    /** How Switchyard was pointed at RabbitMQ: AMQP_URLS (every node) or AMQP_URL (node 1). */
    amqp: 'AMQP_URLS' | 'AMQP_URL';
    control_planes: number;
    workers: number;
  };
  failed_by_error: Record<string, number>;
  duration_s: number;
  goals: Record<string, boolean>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A submission is retried (same idempotency key) this long before it counts as given up. */
const SUBMIT_GIVE_UP_MS = 60_000;

export async function runHa(opts: HaOptions): Promise<HaSummary> {
  const t00 = Date.now();
  const log =
    opts.log ??
    ((l: string) =>
      process.stderr.write(`[ha +${((Date.now() - t00) / 1000).toFixed(1)}s] ${l}\n`));
  const root = repoRoot();
  const bin = join(root, 'bin', 'switchyard.js');
  const agentJs = join(root, 'dist', 'bench', 'chaos', 'chaos-agent.js');
  if (!existsSync(agentJs)) throw new Error(`${agentJs} missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'sy-ha-'));
  const owned: Owned[] = [];
  let redis: RedisSentinelTopology | undefined;
  let rabbit: RabbitCluster | undefined;
  let writers: Awaited<ReturnType<typeof startFencedWriters>> | undefined;
  const started = Date.now();
  const cleanup = async () => {
    await Promise.all(owned.map((p) => p.kill('SIGKILL')));
    await writers?.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await rabbit?.stop().catch(() => undefined);
    if (opts.keepLogs)
      log(`kept the logs: ${join(dir, 'logs')} (and ${join(dir, 'executions.log')})`);
    else rmSync(dir, { recursive: true, force: true });
  };
  const offSignals = exitOnSignal(() => {
    log('interrupted: cleaning up');
    return cleanup();
  });
  try {
    // ---------------------------------------------------------------- brokers
    const [r, q] = await Promise.allSettled([
      RedisSentinelTopology.start({
        replicas: opts.replicas,
        name: 'syha',
        failoverTimeoutMs: 5000,
        appendOnly: true,
        fastSync: false,
      }),
      startRabbitCluster({
        namePrefix: 'syha',
        // What a production cluster runs with: a minority side stops instead of diverging.
        config: ['cluster_partition_handling = pause_minority'],
      }),
    ]);
    if (r.status === 'fulfilled') redis = r.value;
    if (q.status === 'fulfilled') rabbit = q.value;
    if (r.status === 'rejected') throw r.reason;
    if (q.status === 'rejected') throw q.reason;
    const sentinels = redis!;
    const cluster = rabbit!;
    const firstMaster = await sentinels.agreedMaster();
    log(
      `Redis master :${firstMaster.port}, replicas ${sentinels.dataPorts
        .filter((p) => p !== firstMaster.port)
        .map((p) => `:${p}`)
        .join(' ')}, Sentinels ${sentinels.sentinelList}; ` +
        `RabbitMQ ${cluster.nodes.map((n) => `${n.nodeName}:${n.port}`).join(', ')}`,
    );

    // ---------------------------------------------------------------- agents
    const agentsDir = join(dir, 'agents');
    mkdirSync(agentsDir);
    writeFileSync(
      join(agentsDir, 'ha-cmd.md'),
      `---\nname: ha-cmd\ndescription: Logs every execution and sleeps.\nexecutor: command\ncommand: [${JSON.stringify(process.execPath)}, ${JSON.stringify(agentJs)}]\ncapabilities: [ha-cmd]\nmaxConcurrency: 6\n---\n\nHA command agent.\n`,
    );
    writeFileSync(
      join(agentsDir, 'ha-sleep.md'),
      `---\nname: ha-sleep\ndescription: Builtin sleep.\nexecutor: builtin\nhandler: sleep\ncapabilities: [ha-sleep]\nmaxConcurrency: 6\n---\n\nHA builtin agent.\n`,
    );
    const execLog = join(dir, 'executions.log');
    writeFileSync(execLog, '');

    // ---------------------------------------------------------------- switchyard processes
    const id = randomBytes(4).toString('hex');
    const token = `ha-${randomBytes(12).toString('hex')}`;
    // AMQP_URLS and AMQP_URL exclude each other; a build whose configuration does not know
    // AMQP_URLS gets AMQP_URL, never the default (the shared node on 5672).
    const busConfig = join(root, 'dist', 'src', 'config', 'sections', 'bus.config.js');
    const knowsAmqpUrls = readFileSync(busConfig, 'utf8').includes("'AMQP_URLS'");
    const brokerEnv: Record<string, string> = {
      // With REDIS_SENTINELS only its credentials are used; a build without Sentinel support
      // connects here (and does not survive the failover).
      REDIS_URL: `redis://127.0.0.1:${firstMaster.port}`,
      REDIS_SENTINELS: sentinels.sentinelList,
      REDIS_SENTINEL_NAME: sentinels.name,
      ...(knowsAmqpUrls
        ? { AMQP_URLS: cluster.urls().join(',') }
        : { AMQP_URL: cluster.urls()[0] }),
      AMQP_QUEUE_TYPE: 'quorum',
      REDIS_KEY_PREFIX: `syha:${id}:`,
      BUS_NAMESPACE: `syha-${id}.`,
    };
    const env = (more: Record<string, string>): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...brokerEnv,
      SWITCHYARD_ADMIN_TOKEN: token,
      LOG_LEVEL: process.env.HA_LOG_LEVEL ?? 'warn',
      LOG_REQUESTS: 'false',
      STATE_STORE: 'local',
      STATE_LOCAL_DIR: join(dir, 'state'),
      ORCHESTRATOR_LIVENESS_CHECK_MS: '250',
      // The defaults (heartbeat 1 s, TTL 5 s). A TTL shorter than a Sentinel promotion (~2.5 s
      // here: down-after 1 s + election) lets every agent record lapse during each failover, so
      // the control planes fail all running tasks as agent_lost and open the agents' breakers:
      // the run then measures that cascade, not the failover (docs/HIGH-AVAILABILITY.md).
      WORKER_HEARTBEAT_INTERVAL_MS: '1000',
      WORKER_AGENT_TTL_SECONDS: '5',
      ...more,
    });
    const logsDir = join(dir, 'logs');
    mkdirSync(logsDir);
    const spawnSy = (name: string, args: string[], e: NodeJS.ProcessEnv) => () => {
      const child = spawn(process.execPath, [bin, ...args], {
        cwd: dir,
        env: e,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Their output (LOG_LEVEL=warn: warnings and errors) is kept for the failure report.
      for (const stream of [child.stdout, child.stderr])
        stream?.on('data', (d: Buffer) => appendLog(join(logsDir, `${name}.log`), d));
      return child;
    };
    const cpUrls: string[] = [];
    for (let i = 1; i <= 2; i++) {
      const port = await freePort();
      owned.push(
        new Owned(
          `cp${i}`,
          spawnSy(
            `cp${i}`,
            ['serve'],
            env({ HOST: '127.0.0.1', PORT: String(port), BUS_INSTANCE_ID: `cp${i}-${id}` }),
          ),
        ),
      );
      cpUrls.push(`http://127.0.0.1:${port}`);
    }
    await Promise.all(cpUrls.map((u) => waitReady(u, 90_000)));
    for (let i = 1; i <= 2; i++) {
      owned.push(
        new Owned(
          `w${i}`,
          spawnSy(
            `w${i}`,
            ['worker', '--agents', agentsDir],
            env({
              WORKER_ID: `w${i}`,
              BUS_INSTANCE_ID: `w${i}-${id}`,
              WORKER_DRAIN_TIMEOUT_MS: '1000',
            }),
          ),
        ),
      );
    }
    await waitAgents(cpUrls[1], token, 4, 90_000);
    const feed = await resilientFeed(cpUrls[1], token, log);
    writers = await startFencedWriters({ ...brokerEnv, LOG_LEVEL: 'error' }, { log });
    log(`2 control planes, 2 workers up; streaming ${opts.rate} submissions/s`);

    // ---------------------------------------------------------------- submissions
    const tasks = new Map<string, 'task' | 'probe'>(); // task id -> kind
    const workflows = new Set<string>();
    let givenUp = 0;
    let submitRetries = 0;
    const post = async (path: string, body: Record<string, unknown>, n: number) => {
      const key = randomUUID();
      const deadline = Date.now() + SUBMIT_GIVE_UP_MS;
      for (let i = 0; ; i++) {
        const url = cpUrls[(n + i) % cpUrls.length];
        try {
          const r = await fetch(`${url}${path}`, {
            method: 'POST',
            headers: {
              Authorization: `Bearer ${token}`,
              'Content-Type': 'application/json',
              'Idempotency-Key': key,
            },
            body: JSON.stringify({ ...body, idempotencyKey: key }),
            signal: AbortSignal.timeout(10_000),
          });
          if (r.status === 201 || r.status === 200) return await r.json();
          await r.text();
        } catch {
          /* refused / reset / timeout: retry with the same key */
        }
        submitRetries++;
        if (Date.now() > deadline) {
          givenUp++;
          return undefined;
        }
        await sleep(200);
      }
    };
    const taskBody = (n: number) =>
      n % 2 === 0
        ? { capability: 'ha-sleep', payload: { ms: 100 + Math.floor(Math.random() * 700) } }
        : {
            capability: 'ha-cmd',
            payload: { logFile: execLog, ms: 100 + Math.floor(Math.random() * 700), failPct: 0 },
          };
    const retry = { maxRetries: 5, baseDelayMs: 200, maxDelayMs: 2000 };
    const submitOne = async (n: number) => {
      if (n % 5 === 4) {
        const wf = (await post(
          '/v1/workflows',
          {
            name: `ha-${n}`,
            tasks: [
              { ref: 'a', ...taskBody(n), timeoutMs: 60_000, retry },
              { ref: 'b', ...taskBody(n + 1), dependsOn: ['a'], timeoutMs: 60_000, retry },
              { ref: 'c', ...taskBody(n), dependsOn: ['a'], timeoutMs: 60_000, retry },
            ],
          },
          n,
        )) as { workflow: { id: string }; tasks: { id: string }[] } | undefined;
        if (!wf) return;
        workflows.add(wf.workflow.id);
        for (const t of wf.tasks) tasks.set(t.id, 'task');
        return;
      }
      const t = (await post('/v1/tasks', { ...taskBody(n), timeoutMs: 60_000, retry }, n)) as
        { id: string } | undefined;
      if (t) tasks.set(t.id, 'task');
    };

    /** Fault → the first probe submitted after it has completed. */
    const probeDoneAt = new Map<string, number>(); // probe task id -> when seen COMPLETED
    const recovery = async (from: number, what: string): Promise<number | null> => {
      let doneAt: number | null = null;
      const probes: Promise<void>[] = [];
      const giveUpAt = from + 90_000;
      // A slow recovery says why: what the Sentinels name (TILT?), the data nodes' roles and
      // replicas, every 10 s while no probe has completed.
      const watch = setInterval(() => {
        if (doneAt !== null) return;
        void sentinels
          .describe()
          .then((d) => log(`${what}, not recovered after ${Date.now() - from} ms: ${d}`))
          .catch(() => undefined);
      }, 10_000);
      for (let n = 0; doneAt === null && Date.now() < giveUpAt; n++) {
        probes.push(
          (async () => {
            const t = (await post(
              '/v1/tasks',
              { capability: 'ha-sleep', payload: { ms: 20 }, timeoutMs: 60_000, retry },
              n,
            )) as { id: string } | undefined;
            if (!t) return;
            tasks.set(t.id, 'probe');
            while (doneAt === null && Date.now() < giveUpAt) {
              const v = await getTask(cpUrls, token, t.id, 1, 2000);
              if (v?.status === 'COMPLETED') {
                doneAt ??= Date.now();
                probeDoneAt.set(t.id, Date.now());
                return;
              }
              await sleep(100);
            }
          })(),
        );
        await sleep(250);
      }
      await Promise.all(probes);
      clearInterval(watch);
      const ms = doneAt === null ? null : doneAt - from;
      log(
        `${what}: ${ms === null ? 'NOT recovered within 90 s' : `a probe completed after ${ms} ms`}`,
      );
      return ms;
    };
    /**
     * Recovery as measured at the end: the first probe after `from` that completed AND is still
     * there (a probe served by a master that was then wiped does not count).
     */
    const recoveredAfter = (from: number, until: number): number | null => {
      const kept = [...probeDoneAt]
        .filter(([tid, at]) => at >= from && at < until && views.get(tid)?.status === 'COMPLETED')
        .map(([, at]) => at - from);
      return kept.length ? Math.min(...kept) : null;
    };

    let streaming = true;
    const inflight: Promise<void>[] = [];
    const stream = (async () => {
      const t0 = Date.now();
      for (let n = 0; streaming; n++) {
        const due = t0 + (n * 1000) / opts.rate;
        if (due > Date.now()) await sleep(due - Date.now());
        inflight.push(submitOne(n));
      }
    })();

    // ---------------------------------------------------------------- fault 1: Redis master
    await sleep(opts.warmupSeconds * 1000);
    const master = await sentinels.agreedMaster();
    // Every replica lags: writes of the last moments reach none of them, so only WAIT stands
    // between an acknowledged write and its loss in the failover.
    const replicas = sentinels.dataPorts.filter((p) => p !== master.port);
    if (opts.replicaLagMs > 0) {
      log(`pausing the replicas for ${opts.replicaLagMs} ms (replication lag)`);
      for (const p of replicas) sentinels.pause(p);
      await sleep(opts.replicaLagMs);
    }
    log(`SIGKILL Redis master :${master.port}`);
    const redisKillAt = Date.now();
    await sentinels.kill(master.port);
    if (opts.replicaLagMs > 0) for (const p of replicas) sentinels.resume(p);
    const promotion = sentinels
      .waitForFailover(master, 60_000, { agreed: true })
      .then(({ port }) => {
        log(`Sentinels promoted :${port}`);
        return Date.now() - redisKillAt;
      })
      .catch((e: Error) => (log(e.message), null));
    // The supervisor brings the dead node back (AOF: with its data); the Sentinels make it a
    // replica of the new master.
    const restart = Promise.all([promotion, sleep(opts.redisRestartMs)]).then(() => {
      log(`restarting the old master :${master.port} (the Sentinels turn it into a replica)`);
      sentinels.restart(master.port);
    });
    await recovery(redisKillAt, 'Redis failover');
    const redisPromotion = await promotion;
    await restart;

    // ---------------------------------------------------------------- fault 2: RabbitMQ node
    const rabbitAt = redisKillAt + opts.rabbitAfterSeconds * 1000;
    if (rabbitAt > Date.now()) await sleep(rabbitAt - Date.now());
    const fenced = await writers.stop();
    writers = undefined;
    log(`SIGKILL RabbitMQ node ${cluster.nodes[0].nodeName}`);
    const rabbitKillAt = Date.now();
    await cluster.killNode(0);
    await recovery(rabbitKillAt, 'RabbitMQ node loss');
    await sleep(opts.tailSeconds * 1000);
    streaming = false;
    await stream;
    await Promise.all(inflight);
    log(`stream stopped: ${tasks.size} tasks accepted; settling (up to ${opts.settleSeconds} s)`);

    // ---------------------------------------------------------------- settle and read back
    const ids = [...tasks.keys()];
    const views = new Map<string, TaskView | null>();
    const terminal = (s?: string) => s === 'COMPLETED' || s === 'FAILED' || s === 'CANCELLED';
    const settleUntil = Date.now() + opts.settleSeconds * 1000;
    // Control planes that stopped answering must not stretch the read-back without bound.
    const readUntil = settleUntil + 30_000;
    for (;;) {
      const pending = ids.filter((t) => !terminal(views.get(t)?.status));
      await pool(pending, 8, async (t) => {
        if (Date.now() < readUntil) views.set(t, await getTask(cpUrls, token, t, 2, 5000));
        else if (!views.has(t)) views.set(t, { status: 'UNKNOWN', attempt: -1 });
      });
      const left = ids.filter((t) => !terminal(views.get(t)?.status)).length;
      if (left === 0 || Date.now() > settleUntil) break;
      log(`${left} task(s) not finished yet`);
      await sleep(3000);
    }
    if (
      ids.some((t) => {
        const v = views.get(t);
        return v && !terminal(v.status);
      })
    )
      await dumpStuck(
        cluster,
        cpUrls,
        token,
        ids.filter((t) => {
          const v = views.get(t);
          return v && !terminal(v.status);
        }),
        log,
      );
    const wfViews = new Map<string, string | null>();
    await pool([...workflows], 8, async (w) => {
      wfViews.set(
        w,
        Date.now() < readUntil ? await getWorkflowStatus(cpUrls, token, w) : 'UNKNOWN',
      );
    });
    await sleep(1000);
    feed.close();

    // ---------------------------------------------------------------- measure
    const redisRecovery = recoveredAfter(redisKillAt, rabbitKillAt);
    const rabbitRecovery = recoveredAfter(rabbitKillAt, Infinity);
    const statuses = [...views.values()];
    const completed = statuses.filter((v) => v?.status === 'COMPLETED').length;
    const failed = statuses.filter((v) => v?.status === 'FAILED').length;
    const lost = statuses.filter((v) => v === null).length;
    const stuck = statuses.filter((v) => v && !terminal(v.status)).length;
    const completedTwice = [...feed.counts.values()].filter((c) => c > 1).length;
    const okEnds = new Map<string, number>();
    for (const line of readFileSync(execLog, 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { taskId: string; event: string; ok?: boolean };
      if (e.event === 'end' && e.ok) okEnds.set(e.taskId, (okEnds.get(e.taskId) ?? 0) + 1);
    }
    const wfStatuses = [...wfViews.values()];
    const stale = fenced.stale_fenced_writes;
    if (fenced.examples.length) log(`stale writes: ${fenced.examples.join(' | ')}`);
    const goals: Record<string, boolean> = {
      lost_0: lost === 0 && wfStatuses.every((s) => s !== null),
      stuck_0: stuck === 0,
      completed_twice_0: completedTwice === 0 && feed.dropped === 0,
      stale_fenced_writes_0: stale === 0 && fenced.grants > 0,
      redis_failover_recovery_le_15s: redisRecovery !== null && redisRecovery <= 15_000,
      rabbit_node_kill_recovery_le_10s: rabbitRecovery !== null && rabbitRecovery <= 10_000,
    };
    logNacks(logsDir, log);
    if (Object.values(goals).includes(false)) {
      log(`Redis at the end: ${await sentinels.describe().catch((e: Error) => e.message)}`);
      dumpLogs(logsDir, log);
    }
    return {
      scenario: 'ha',
      accepted: ids.length,
      completed,
      failed,
      lost,
      stuck,
      completed_twice: completedTwice,
      feed_dropped: feed.dropped,
      feed_reconnects: feed.reconnects,
      executed_ok_twice: [...okEnds.values()].filter((c) => c > 1).length,
      workflows: {
        accepted: workflows.size,
        completed: wfStatuses.filter((s) => s === 'COMPLETED').length,
        lost: wfStatuses.filter((s) => s === null).length,
        stuck: wfStatuses.filter((s) => s === 'RUNNING').length,
      },
      submissions_given_up: givenUp,
      submit_retries: submitRetries,
      redis_failover_recovery_ms: redisRecovery,
      redis_promotion_ms: redisPromotion,
      rabbit_node_kill_recovery_ms: rabbitRecovery,
      stale_fenced_writes: stale,
      fenced_writers: fenced,
      topology: {
        redis: `master + ${opts.replicas} replica(s) + 3 sentinels`,
        rabbit_nodes: cluster.nodes.length,
        amqp: knowsAmqpUrls ? 'AMQP_URLS' : 'AMQP_URL',
        control_planes: 2,
        workers: 2,
      },
      failed_by_error: statuses.reduce<Record<string, number>>((acc, v) => {
        if (v?.status === 'FAILED') {
          const t = v.error?.type ?? 'unknown';
          acc[t] = (acc[t] ?? 0) + 1;
        }
        return acc;
      }, {}),
      duration_s: Math.round((Date.now() - started) / 1000),
      goals,
    };
  } catch (e) {
    // Keep what the processes said: the run failed, and their logs say why.
    dumpLogs(join(dir, 'logs'), log);
    throw e;
  } finally {
    offSignals();
    await cleanup();
  }
}

/**
 * Up to 10 stuck tasks' full records (status, attempt, agent, age) and the queue overview, on
 * stderr: what a stuck task waits for is the first question when stuck_0 fails.
 */
async function dumpStuck(
  cluster: RabbitCluster,
  urls: string[],
  token: string,
  stuck: string[],
  log: (l: string) => void,
): Promise<void> {
  const get = async (path: string): Promise<unknown> => {
    try {
      const r = await fetch(`${urls[0]}${path}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5000),
      });
      return r.ok ? await r.json() : `HTTP ${r.status}: ${await r.text()}`;
    } catch (e) {
      return `unreachable: ${(e as Error).message}`;
    }
  };
  log(`${stuck.length} stuck task(s); the first ${Math.min(10, stuck.length)}:`);
  for (const t of stuck.slice(0, 10)) {
    const v = (await get(`/v1/tasks/${t}`)) as Record<string, unknown> | string;
    const age =
      typeof v === 'object' && typeof v.createdAt === 'string'
        ? `${((Date.now() - Date.parse(v.createdAt)) / 1000).toFixed(0)} s old`
        : '';
    log(`stuck ${t} ${age}: ${JSON.stringify(v)}`);
  }
  log(`queue: ${JSON.stringify(await get('/v1/queue'))}`);
  // Where the replies and tasks of a stuck attempt sit: each queue's type, leader, members.
  const rows = await cluster
    .ctl('list_queues', 'name', 'type', 'leader', 'members', 'online', 'messages', 'consumers')
    .catch((e: Error) => `list_queues failed: ${e.message}`);
  log(`RabbitMQ queues:\n${rows}`);
}

/** How often the broker nacked a publish, and publisher channels were renewed for it, per process. */
function logNacks(logs: string, log: (l: string) => void): void {
  const per = ['cp1', 'cp2', 'w1', 'w2'].map((name) => {
    const p = join(logs, `${name}.log`);
    const text = existsSync(p) ? readFileSync(p, 'utf8') : '';
    const count = (re: RegExp) => text.match(re)?.length ?? 0;
    return `${name} ${count(/message nacked/g)}/${count(/reopening the publisher channel/g)}`;
  });
  log(`nacked publishes / publisher channels renewed: ${per.join(', ')}`);
}

/** The tail of each Switchyard process's stderr (warnings and errors), for the run's log. */
function dumpLogs(logs: string, log: (l: string) => void): void {
  for (const f of ['cp1.log', 'cp2.log', 'w1.log', 'w2.log']) {
    const p = join(logs, f);
    if (existsSync(p)) log(`--- ${f} (last 3000 chars)\n${readFileSync(p, 'utf8').slice(-3000)}`);
  }
}

function appendLog(path: string, d: Buffer): void {
  try {
    writeFileSync(path, d, { flag: 'a' });
  } catch {
    /* the temp dir is gone: the run is over */
  }
}

async function getWorkflowStatus(
  urls: string[],
  token: string,
  id: string,
): Promise<string | null> {
  for (let i = 0; i < 2; i++) {
    try {
      const r = await fetch(`${urls[i % urls.length]}/v1/workflows/${id}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5000),
      });
      if (r.status === 404) return null;
      if (r.ok) return ((await r.json()) as { workflow: { status: string } }).workflow.status;
      await r.text();
    } catch {
      /* retry on the other control plane */
    }
    await sleep(500);
  }
  return 'UNKNOWN';
}

/** The live feed of `task.completed` events, reconnected (counts kept) when it drops. */
async function resilientFeed(
  url: string,
  token: string,
  log: (l: string) => void,
): Promise<{ counts: Map<string, number>; dropped: number; reconnects: number; close(): void }> {
  const counts = new Map<string, number>();
  const firstAt = new Map<string, number>();
  let closed = false;
  let current: Awaited<ReturnType<typeof watchCompletions>> | undefined;
  const out = {
    counts,
    dropped: 0,
    reconnects: 0,
    close: () => {
      closed = true;
      current?.close();
    },
  };
  let connected: () => void = () => undefined;
  const first = new Promise<void>((r) => (connected = r));
  // One loop, one connection at a time: connect, wait for it to close, count, connect again.
  void (async () => {
    while (!closed) {
      let onClosed: () => void = () => undefined;
      const gone = new Promise<void>((r) => (onClosed = r));
      try {
        current = await watchCompletions(url, token, {
          counts,
          firstAt,
          onClose: () => onClosed(),
        });
      } catch {
        await sleep(500);
        continue;
      }
      connected();
      await gone;
      out.dropped += current.dropped;
      current = undefined;
      if (closed) return;
      out.reconnects++;
      log('live feed closed; reconnecting');
      await sleep(250);
    }
  })();
  await first;
  return out;
}

function parseArgs(argv: string[]): HaOptions {
  const o: HaOptions = { ...HA_DEFAULTS, keepLogs: process.env.HA_KEEP_LOGS === '1' };
  if (argv.includes('--keep-logs')) {
    o.keepLogs = true;
    argv = argv.filter((a) => a !== '--keep-logs');
  }
  const flags: Record<string, keyof HaOptions> = {
    '--rate': 'rate',
    '--warmup': 'warmupSeconds',
    '--rabbit-after': 'rabbitAfterSeconds',
    '--tail': 'tailSeconds',
    '--settle': 'settleSeconds',
    '--replica-lag-ms': 'replicaLagMs',
    '--redis-restart-ms': 'redisRestartMs',
    '--replicas': 'replicas',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const field = flags[argv[i]];
    const n = Number(argv[i + 1]);
    if (!field)
      throw new Error(
        `unknown flag ${argv[i]}; flags: ${Object.keys(flags).join(' ')} --keep-logs`,
      );
    if (!Number.isFinite(n) || n < 0) throw new Error(`${argv[i]} needs a number >= 0`);
    (o as unknown as Record<string, number>)[field] = n;
  }
  if (o.rate <= 0) throw new Error('--rate must be > 0');
  if (!Number.isInteger(o.replicas) || o.replicas < 1)
    throw new Error('--replicas must be an integer >= 1');
  return o;
}

if (require.main === module) {
  runMain('test:ha', parseArgs, runHa, {
    exitCode: (summary) => {
      const failed = Object.entries(summary.goals).filter(([, ok]) => !ok);
      if (failed.length)
        process.stderr.write(`test:ha goals failed: ${failed.map(([g]) => g).join(', ')}\n`);
      return failed.length ? 1 : 0;
    },
    failedExit: 2,
  });
}
