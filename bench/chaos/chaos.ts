/**
 * `npm run chaos`: Switchyard under an SRE's fault schedule, on its own private Redis (AOF) and
 * private RabbitMQ node, with 2 control planes and 3 workers spawned from the compiled CLI.
 * Prints progress on stderr and ONE JSON line on stdout (see `ChaosSummary`).
 *
 *   npm run chaos -- [--tasks 600] [--rate 10] [--kill-every 8] [--settle 120] [--fail-pct 10]
 *
 * The fault schedule, over the submission window (tasks / rate seconds):
 *   - SIGKILL a worker every --kill-every seconds (round robin), restarted 1 s later;
 *   - SIGKILL control plane 1 at 25 % (restarted 2 s later);
 *   - restart RabbitMQ (stop_app, 2 s, start_app) at 45 %;
 *   - restart Redis (SIGTERM: AOF flushed, 2 s, start again) at 65 %.
 * Then it waits (up to --settle seconds) for every accepted task to end and measures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WebSocket } from 'ws';
import { exitOnSignal, runMain } from '../support/cli';
import { freePort } from '../support/switchyard-processes';
import { type RabbitNode, startRabbitNode } from '../support/rabbitmq-node';

export interface ChaosOptions {
  tasks: number;
  /** Submissions per second. */
  rate: number;
  killEverySeconds: number;
  settleSeconds: number;
  failPct: number;
  /** Share of tasks for the builtin `sleep` agent (the rest go to the logging command agent). */
  builtinPct: number;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface ChaosSummary {
  scenario: 'chaos';
  accepted: number;
  completed: number;
  failed: number;
  lost: number;
  stuck: number;
  /** Tasks with more than one `task.completed` event on the live feed (an outcome applied twice). */
  completed_twice: number;
  /** Live-feed messages dropped to backpressure (must be 0 for completed_twice to be exact). */
  feed_dropped: number;
  /** Tasks whose agent ran to success more than once (side effects twice; only one outcome applied). */
  executed_ok_twice: number;
  same_attempt_reexecuted: number;
  orphans_after_kill: number;
  worker_kills: number;
  interrupted_executions: number;
  kill_to_redispatch_p50_ms: number | null;
  kill_to_redispatch_p99_ms: number | null;
  not_redispatched: number;
  redis_restart_stuck_max_ms: number | null;
  autonomy_pct: number;
  submit_retries: number;
  /** FAILED tasks by their final error type. */
  failed_by_error: Record<string, number>;
  /** A few tasks that ran successfully twice or re-ran an attempt: their executions, for diagnosis. */
  examples: { taskId: string; executions: string[] }[];
  duration_s: number;
  goals: Record<string, boolean>;
}

export const CHAOS_DEFAULTS: ChaosOptions = {
  tasks: 1500,
  rate: 10,
  killEverySeconds: 8,
  settleSeconds: 180,
  failPct: 10,
  builtinPct: 20,
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The repository root (this file runs from bench/chaos or dist/bench/chaos). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'bin', 'switchyard.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find bin/switchyard.js above ' + __dirname);
    dir = up;
  }
  return dir;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Exec {
  taskId: string;
  attempt: number;
  pid: number;
  ppid: number;
  childPid?: number;
  at: number;
  event: 'start' | 'end';
  ok?: boolean;
}

export interface TaskView {
  status: string;
  attempt: number;
  error?: { type?: string };
  completedAt?: string;
  updatedAt?: string;
}

/** One spawned long-lived process we own (redis-server or a switchyard process). */
export class Owned {
  child!: ChildProcess;
  exited!: Promise<void>;
  constructor(
    readonly name: string,
    private readonly start: () => ChildProcess,
  ) {
    this.launch();
  }
  launch(): void {
    this.child = this.start();
    const child = this.child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }
  get pid(): number {
    return this.child.pid ?? -1;
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async kill(sig: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.child.kill(sig);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosSummary> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[chaos] ${l}\n`));
  const root = repoRoot();
  const bin = join(root, 'bin', 'switchyard.js');
  const agentJs = join(root, 'dist', 'bench', 'chaos', 'chaos-agent.js');
  if (!existsSync(agentJs)) throw new Error(`${agentJs} missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'sy-chaos-'));
  const owned: Owned[] = [];
  let rabbit: RabbitNode | undefined;
  const started = Date.now();
  // Ctrl-C / SIGTERM: everything started dies with the run (the broker node too, best effort).
  const offSignals = exitOnSignal(async () => {
    for (const p of owned) p.child.kill('SIGKILL');
    await rabbit?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    // ---------------------------------------------------------------- private Redis + RabbitMQ
    const redisPort = await freePort();
    const redisDir = join(dir, 'redis');
    mkdirSync(redisDir);
    const redis = new Owned('redis', () =>
      spawn(
        'redis-server',
        ['--port', String(redisPort), '--bind', '127.0.0.1', '--appendonly', 'yes'],
        { cwd: redisDir, stdio: 'ignore' },
      ),
    );
    // --dir is the cwd (relative paths): keeps the AOF under our temp dir.
    owned.push(redis);
    await waitTcp(redisPort, 20_000, 'private redis-server');
    rabbit = await startRabbitNode();
    log(`private redis :${redisPort} (AOF), private RabbitMQ ${rabbit.nodeName} :${rabbit.port}`);

    // ---------------------------------------------------------------- agents
    const agentsDir = join(dir, 'agents');
    mkdirSync(agentsDir);
    writeFileSync(
      join(agentsDir, 'chaos-cmd.md'),
      `---\nname: chaos-cmd\ndescription: Logs every execution, sleeps in a grandchild, fails ${opts.failPct}% of the time.\nexecutor: command\ncommand: [${JSON.stringify(process.execPath)}, ${JSON.stringify(agentJs)}]\ncapabilities: [chaos-cmd]\nmaxConcurrency: 6\n---\n\nChaos command agent.\n`,
    );
    writeFileSync(
      join(agentsDir, 'chaos-sleep.md'),
      `---\nname: chaos-sleep\ndescription: Builtin sleep.\nexecutor: builtin\nhandler: sleep\ncapabilities: [chaos-sleep]\nmaxConcurrency: 6\n---\n\nChaos builtin agent.\n`,
    );
    const execLog = join(dir, 'executions.log');
    writeFileSync(execLog, '');

    // ---------------------------------------------------------------- switchyard processes
    const id = randomBytes(4).toString('hex');
    const token = `chaos-${randomBytes(12).toString('hex')}`;
    const env = (more: Record<string, string>): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      AMQP_URL: rabbit!.url,
      REDIS_KEY_PREFIX: `sychaos:${id}:`,
      BUS_NAMESPACE: `sychaos-${id}.`,
      SWITCHYARD_ADMIN_TOKEN: token,
      LOG_LEVEL: 'warn',
      LOG_REQUESTS: 'false',
      ORCHESTRATOR_LIVENESS_CHECK_MS: '250',
      WORKER_HEARTBEAT_INTERVAL_MS: '500',
      WORKER_AGENT_TTL_SECONDS: '2',
      ...more,
    });
    const spawnSy = (args: string[], e: NodeJS.ProcessEnv) => () =>
      spawn(process.execPath, [bin, ...args], { cwd: dir, env: e, stdio: 'ignore' });
    const cpUrls: string[] = [];
    const cps: Owned[] = [];
    for (let i = 1; i <= 2; i++) {
      const port = await freePort();
      const cp = new Owned(
        `cp${i}`,
        spawnSy(
          ['serve'],
          env({ HOST: '127.0.0.1', PORT: String(port), BUS_INSTANCE_ID: `cp${i}-${id}` }),
        ),
      );
      owned.push(cp);
      cps.push(cp);
      cpUrls.push(`http://127.0.0.1:${port}`);
    }
    await Promise.all(cpUrls.map((u) => waitReady(u, 90_000)));
    const workers: Owned[] = [];
    for (let i = 1; i <= 3; i++) {
      const w = new Owned(
        `w${i}`,
        spawnSy(
          ['worker', '--agents', agentsDir],
          env({
            WORKER_ID: `w${i}`,
            BUS_INSTANCE_ID: `w${i}-${id}`,
            WORKER_DRAIN_TIMEOUT_MS: '1000',
          }),
        ),
      );
      owned.push(w);
      workers.push(w);
    }
    await waitAgents(cpUrls[1], token, 6, 90_000);
    // Completions as the live feed of control plane 2 (never killed) reports them.
    const feed = await watchCompletions(cpUrls[1], token);
    log(`2 control planes, 3 workers up; submitting ${opts.tasks} tasks at ${opts.rate}/s`);

    // ---------------------------------------------------------------- submission
    const accepted = new Map<string, string>(); // idempotency key -> task id
    let submitRetries = 0;
    const submitOne = async (n: number) => {
      const key = randomUUID();
      const builtin = Math.random() * 100 < opts.builtinPct;
      const ms = 200 + Math.floor(Math.random() * 1300);
      const body = builtin
        ? { capability: 'chaos-sleep', payload: { ms } }
        : { capability: 'chaos-cmd', payload: { logFile: execLog, ms, failPct: opts.failPct } };
      const deadline = Date.now() + 120_000;
      for (let i = 0; ; i++) {
        const url = cpUrls[(n + i) % cpUrls.length];
        try {
          const r = await fetch(`${url}/v1/tasks`, {
            method: 'POST',
            headers: {
              Authorization: `Bearer ${token}`,
              'Content-Type': 'application/json',
              'Idempotency-Key': key,
            },
            body: JSON.stringify({
              ...body,
              idempotencyKey: key,
              timeoutMs: 60_000,
              // The injected failures are agent errors the task asks to retry.
              retry: {
                maxRetries: 3,
                baseDelayMs: 200,
                maxDelayMs: 2000,
                retryOn: ['exit_nonzero'],
              },
            }),
            signal: AbortSignal.timeout(10_000),
          });
          if (r.status === 201 || r.status === 200) {
            const t = (await r.json()) as { id: string };
            accepted.set(key, t.id);
            return;
          }
          await r.text();
        } catch {
          /* connection refused / reset / timeout: retry with the same key */
        }
        submitRetries++;
        if (Date.now() > deadline) return;
        await sleep(250);
      }
    };

    // ---------------------------------------------------------------- fault schedule
    const windowMs = (opts.tasks / opts.rate) * 1000;
    const kills: { pid: number; at: number }[] = [];
    let redisDownAt = 0;
    let redisUpAt = 0;
    const faults: Promise<void>[] = [];
    const at = (frac: number, fn: () => Promise<void>) =>
      faults.push(sleep(windowMs * frac).then(fn));
    at(0.25, async () => {
      log('SIGKILL control plane 1');
      await cps[0].kill('SIGKILL');
      await sleep(2000);
      cps[0].launch();
      await waitReady(cpUrls[0], 90_000).catch((e: Error) => log(e.message));
      log('control plane 1 back');
    });
    at(0.45, async () => {
      log('restart RabbitMQ');
      await rabbit!.stopApp();
      await sleep(2000);
      await rabbit!.startApp();
      log('RabbitMQ back');
    });
    at(0.65, async () => {
      log('restart Redis');
      redisDownAt = Date.now();
      await redis.kill('SIGTERM');
      await sleep(2000);
      redis.launch();
      await waitTcp(redisPort, 20_000, 'redis back');
      redisUpAt = Date.now();
      log('Redis back');
    });
    let killing = true;
    const killer = (async () => {
      let i = 0;
      await sleep(Math.min(opts.killEverySeconds * 1000, windowMs / 4));
      while (killing) {
        const w = workers[i++ % workers.length];
        if (w.running) {
          const pid = w.pid;
          await w.kill('SIGKILL');
          kills.push({ pid, at: Date.now() });
          log(`SIGKILL ${w.name} (pid ${pid})`);
          setTimeout(() => w.launch(), 1000);
        }
        await sleep(opts.killEverySeconds * 1000);
      }
    })();

    const inflight: Promise<void>[] = [];
    const t0 = Date.now();
    for (let n = 0; n < opts.tasks; n++) {
      const due = t0 + (n * 1000) / opts.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      inflight.push(submitOne(n));
    }
    await Promise.all(inflight);
    await Promise.all(faults);
    killing = false;
    await killer;
    log(`submitted: ${accepted.size} accepted; settling (up to ${opts.settleSeconds} s)`);

    // ---------------------------------------------------------------- settle and read back
    const ids = [...accepted.values()];
    const views = new Map<string, TaskView | null>();
    const settleUntil = Date.now() + opts.settleSeconds * 1000;
    const terminal = (s?: string) => s === 'COMPLETED' || s === 'FAILED' || s === 'CANCELLED';
    for (;;) {
      const pending = ids.filter((tid) => !terminal(views.get(tid)?.status));
      await pool(pending, 8, async (tid) => {
        views.set(tid, await getTask(cpUrls, token, tid));
      });
      const left = ids.filter((tid) => !terminal(views.get(tid)?.status)).length;
      if (left === 0 || Date.now() > settleUntil) break;
      log(`${left} task(s) not finished yet`);
      await sleep(3000);
    }

    // ---------------------------------------------------------------- measure
    const execs = readFileSync(execLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Exec);
    const byTask = new Map<string, Exec[]>();
    for (const e of execs) {
      const list = byTask.get(e.taskId) ?? [];
      list.push(e);
      byTask.set(e.taskId, list);
    }
    let executedOkTwice = 0;
    let sameAttempt = 0;
    const examples: ChaosSummary['examples'] = [];
    const workerOf = new Map<number, string>(kills.map((k) => [k.pid, 'killed']));
    for (const [taskId, list] of byTask) {
      const twice = list.filter((e) => e.event === 'end' && e.ok).length > 1;
      const attempts = list.filter((e) => e.event === 'start').map((e) => e.attempt);
      const again = new Set(attempts).size !== attempts.length;
      if (twice) executedOkTwice++;
      if (again) sameAttempt++;
      if ((twice || again) && examples.length < 5) {
        examples.push({
          taskId,
          executions: list.map(
            (e) =>
              `${e.event}${e.ok === undefined ? '' : e.ok ? ':ok' : ':fail'} a${e.attempt} pid ${e.pid} worker ${e.ppid}${workerOf.has(e.ppid) ? ' (killed)' : ''} +${e.at - started}ms`,
          ),
        });
      }
    }
    // Executions a worker kill interrupted: started under the killed pid, never ended.
    const ended = new Set(execs.filter((e) => e.event === 'end').map((e) => `${e.pid}`));
    let orphans = 0;
    const redispatch: number[] = [];
    let interrupted = 0;
    let notRedispatched = 0;
    for (const k of kills) {
      for (const s of execs) {
        if (s.event !== 'start' || s.ppid !== k.pid || ended.has(`${s.pid}`)) continue;
        interrupted++;
        // Checked at the end of the run: an orphan would still be sleeping (or have ended it).
        if (alive(s.pid) || (s.childPid !== undefined && alive(s.childPid))) orphans++;
        const next = (byTask.get(s.taskId) ?? []).find((e) => e.event === 'start' && e.at > k.at);
        if (next) redispatch.push(next.at - k.at);
        else if (views.get(s.taskId)?.status !== 'COMPLETED') notRedispatched++;
      }
    }
    // An orphan ends its `sleep` and logs an `end` with the killed worker as ppid: count those too.
    for (const k of kills) {
      orphans += execs.filter(
        (e) => e.event === 'end' && e.ppid === k.pid && e.at > k.at + 1000,
      ).length;
    }
    // Stuck after the Redis restart: executions that ended around the outage, to their task's end.
    const stuckAfterRedis: number[] = [];
    if (redisDownAt > 0) {
      for (const [tid, list] of byTask) {
        const lastEnd = list.filter((e) => e.event === 'end').pop();
        if (!lastEnd || lastEnd.at < redisDownAt - 1000 || lastEnd.at > redisUpAt + 1000) continue;
        const v = views.get(tid);
        const doneAt = v?.completedAt ?? (terminal(v?.status) ? v?.updatedAt : undefined);
        stuckAfterRedis.push(doneAt ? Date.parse(doneAt) - lastEnd.at : Date.now() - lastEnd.at);
      }
    }
    const statuses = [...views.values()];
    const completed = statuses.filter((v) => v?.status === 'COMPLETED').length;
    const failed = statuses.filter((v) => v?.status === 'FAILED').length;
    const lost = statuses.filter((v) => v === null).length;
    const stuck = statuses.filter((v) => v && !terminal(v.status)).length;
    await sleep(1000);
    feed.close();
    const completedTwice = [...feed.counts.values()].filter((n) => n > 1).length;
    const p50 = percentile(redispatch, 50);
    const p99 = percentile(redispatch, 99);
    const redisMax = stuckAfterRedis.length ? Math.max(...stuckAfterRedis) : null;
    const autonomy = ids.length ? Math.round((completed / ids.length) * 100_000) / 1000 : 0;
    return {
      scenario: 'chaos',
      accepted: ids.length,
      completed,
      failed,
      lost,
      stuck,
      completed_twice: completedTwice,
      feed_dropped: feed.dropped,
      executed_ok_twice: executedOkTwice,
      same_attempt_reexecuted: sameAttempt,
      orphans_after_kill: orphans,
      worker_kills: kills.length,
      interrupted_executions: interrupted,
      kill_to_redispatch_p50_ms: p50,
      kill_to_redispatch_p99_ms: p99,
      not_redispatched: notRedispatched,
      redis_restart_stuck_max_ms: redisMax,
      autonomy_pct: autonomy,
      submit_retries: submitRetries,
      failed_by_error: statuses.reduce<Record<string, number>>((acc, v) => {
        if (v?.status === 'FAILED') {
          const t = v.error?.type ?? 'unknown';
          acc[t] = (acc[t] ?? 0) + 1;
        }
        return acc;
      }, {}),
      examples,
      duration_s: Math.round((Date.now() - started) / 1000),
      goals: {
        lost_0: lost === 0,
        stuck_0: stuck === 0,
        completed_twice_0: completedTwice === 0 && feed.dropped === 0,
        orphans_0: orphans === 0,
        redispatch_p50_le_5s: p50 !== null && p50 <= 5000,
        redispatch_p99_le_10s: p99 !== null && p99 <= 10_000,
        redis_restart_stuck_le_10s: redisMax === null || redisMax <= 10_000,
        autonomy_ge_99_9: autonomy >= 99.9,
      },
    };
  } finally {
    offSignals();
    // Everything we started dies; the temp dir (AOF, logs, agents) goes.
    await Promise.all(owned.map((p) => p.kill('SIGKILL')));
    await rabbit?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts `task.completed` events per task id on a control plane's live feed. */
export async function watchCompletions(
  url: string,
  token: string,
  /** Reconnecting callers pass the maps of the previous connection and learn when it closed. */
  more: {
    counts?: Map<string, number>;
    firstAt?: Map<string, number>;
    onClose?: () => void;
  } = {},
): Promise<{
  counts: Map<string, number>;
  /** When the first `task.completed` of each task arrived (epoch ms). */
  firstAt: Map<string, number>;
  dropped: number;
  close(): void;
}> {
  const state = {
    counts: more.counts ?? new Map<string, number>(),
    firstAt: more.firstAt ?? new Map<string, number>(),
    dropped: 0,
    close: () => ws.close(),
  };
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/live`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (more.onClose) ws.once('close', more.onClose);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as {
        type: string;
        count?: number;
        event?: { taskId?: string };
      };
      if (msg.type === 'welcome') {
        ws.send(JSON.stringify({ type: 'subscribe', filters: { types: ['task.completed'] } }));
      } else if (msg.type === 'subscribed') {
        resolve();
      } else if (msg.type === 'dropped') {
        state.dropped += Number(msg.count ?? 0);
      } else if (msg.type === 'event' && msg.event?.taskId) {
        const id = msg.event.taskId;
        if (!state.firstAt.has(id)) state.firstAt.set(id, Date.now());
        state.counts.set(id, (state.counts.get(id) ?? 0) + 1);
      }
    });
  });
  return state;
}

export async function getTask(
  urls: string[],
  token: string,
  id: string,
  tries = 6,
  timeoutMs = 10_000,
): Promise<TaskView | null> {
  for (let i = 0; i < tries; i++) {
    try {
      const r = await fetch(`${urls[i % urls.length]}/v1/tasks/${id}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (r.status === 404) return null;
      if (r.ok) return (await r.json()) as TaskView;
      await r.text();
    } catch {
      /* retry on the other control plane */
    }
    await sleep(500);
  }
  return { status: 'UNKNOWN', attempt: -1 };
}

export async function pool<T>(
  items: T[],
  n: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

export async function waitTcp(port: number, timeoutMs: number, what: string): Promise<void> {
  const { Socket } = await import('node:net');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.setTimeout(500, () => (s.destroy(), resolve(false)));
      s.once('error', () => (s.destroy(), resolve(false)));
      s.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} on port ${port}`);
}

export async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return;
    } catch {
      /* not yet */
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${url}/health/ready`);
}

export async function waitAgents(
  url: string,
  token: string,
  n: number,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(`${url}/v1/agents`, { headers: { Authorization: `Bearer ${token}` } });
      const body = await r.json();
      const list = Array.isArray(body) ? body : (body as { items?: unknown[] }).items;
      if (Array.isArray(list) && list.length >= n) return;
    } catch {
      /* not yet */
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${n} agents to register`);
}

function parseArgs(argv: string[]): ChaosOptions {
  const o = { ...CHAOS_DEFAULTS };
  const num = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--tasks':
        o.tasks = num('tasks', v);
        break;
      case '--rate':
        o.rate = num('rate', v);
        break;
      case '--kill-every':
        o.killEverySeconds = num('kill-every', v);
        break;
      case '--settle':
        o.settleSeconds = num('settle', v);
        break;
      case '--fail-pct':
        o.failPct = Number(v);
        break;
      case '--builtin-pct':
        o.builtinPct = Number(v);
        break;
      default:
        throw new Error(
          `unknown flag ${a}; flags: --tasks --rate --kill-every --settle --fail-pct --builtin-pct`,
        );
    }
    i++;
  }
  return o;
}

if (require.main === module) runMain('chaos', parseArgs, runChaos);
