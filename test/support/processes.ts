import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { BusTopology } from '../../src/bus/bus-topology';
import { LiveTestClient } from './live-client';
import { deletePrefix } from './redis-cleanup';

/**
 * Multi-process e2e support: builds dist/ when it is stale, spawns control planes
 * (`switchyard serve`) and workers (`switchyard worker --agents DIR`) as real child processes on
 * free ports, waits for them to be ready, keeps the tail of their stderr for failure messages,
 * kills them (SIGKILL on demand, SIGTERM-then-SIGKILL at the end) and deletes their Redis keys
 * and RabbitMQ objects.
 */

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'switchyard.js');
export const E2E_AGENTS = join(ROOT, 'test', 'fixtures', 'e2e-agents');
export const ADMIN_TOKEN = 'e2e-orch-admin-token-0123456789';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const STDERR_KEEP = 16_384;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every `everyMs` until it holds; throws `timed out waiting for <what>` after `ms`. */
export async function until(
  cond: () => boolean,
  ms: number,
  what: string,
  everyMs = 25,
): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts') || e.name.endsWith('.lua'))
      newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Compiles src/ into dist/ (`tsc -p tsconfig.build.json`, incremental) when dist is missing or
 * older than src. Type errors elsewhere in the tree do not stop tsc from emitting, so they are
 * tolerated; a missing entry point afterwards is not. A lock directory keeps two test files
 * from building at once.
 */
export async function ensureBuilt(): Promise<void> {
  const entry = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  // tsc --incremental rewrites only what changed, so freshness is a stamp of the last build's start.
  const stamp = join(ROOT, 'dist', '.e2e-build-stamp');
  const fresh = () => {
    try {
      statSync(entry);
      return statSync(stamp).mtimeMs >= newestMtime(join(ROOT, 'src'));
    } catch {
      return false;
    }
  };
  if (fresh()) return;
  const lock = join(ROOT, 'dist', '.e2e-build.lock');
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Someone else builds; a lock older than 3 minutes is stale.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for the dist build lock');
      await sleep(500);
    }
  }
  try {
    if (fresh()) return;
    const startedAt = new Date();
    await new Promise<void>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
        { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
        () => resolve(), // exit code ignored: tsc emits despite unrelated type errors
      );
    });
    // The .lua scripts and dist/main.js, as `npm run build` does (the app reads them from dist/).
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [join(ROOT, 'scripts', 'copy-assets.js')], { cwd: ROOT }, (e) => {
        if (e) reject(new Error(`scripts/copy-assets.js failed: ${e.message}`));
        else resolve();
      });
    });
    writeFileSync(stamp, '');
    utimesSync(stamp, startedAt, startedAt);
  } finally {
    rmdirSync(lock);
  }
  try {
    statSync(entry);
  } catch {
    throw new Error(`build failed: ${entry} missing after tsc -p tsconfig.build.json`);
  }
}

/** Base names of the `*.md` files below `dir` (README.md excepted). */
function mdBasenames(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...mdBasenames(join(dir, e.name)));
    else if (e.name.endsWith('.md') && e.name !== 'README.md') out.push(e.name.slice(0, -3));
  }
  return out;
}

/** Every process spawned here; killed if this (Jest) process exits before a cleanup ran. */
const spawned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of spawned) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/** One spawned switchyard process. */
export class Proc {
  stderr = '';
  stdout = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (s: string, d: Buffer) => (s + d.toString('utf8')).slice(-STDERR_KEEP);
    child.stderr?.on('data', (d: Buffer) => (this.stderr = keep(this.stderr, d)));
    child.stdout?.on('data', (d: Buffer) => (this.stdout = keep(this.stdout, d)));
    spawned.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        spawned.delete(child);
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** SIGKILL (the crash being tested) and wait until the process is gone. */
  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }

  /** State plus the last lines of stderr and of stdout (the JSON logs, LOG_LEVEL=warn). */
  describe(): string {
    const state = this.alive ? `pid ${this.pid}` : `exited ${this.exitCode ?? this.exitSignal}`;
    const tail = (text: string, label: string) => {
      const lines = text.trim().split('\n').filter(Boolean).slice(-12);
      return lines.length === 0
        ? ` (no ${label})`
        : `\n  ${label}:\n    ${lines.map((l) => l.slice(0, 400)).join('\n    ')}`;
    };
    return `[${this.name} ${state}]${tail(this.stderr, 'stderr')}${tail(this.stdout, 'stdout')}`;
  }
}

export class ControlPlane extends Proc {
  url = '';
}

export interface HttpReply<T = unknown> {
  status: number;
  body: T;
}

/** A minimal JSON client for one control plane, with the admin token. */
export class Api {
  constructor(readonly url: string) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON replies of many shapes; tests assert on them
  async request<T = any>(method: string, path: string, body?: unknown): Promise<HttpReply<T>> {
    const res = await fetch(this.url + path, {
      method,
      headers: {
        Authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON (e.g. /metrics) */
    }
    return { status: res.status, body: parsed as T };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as request()
  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as request()
  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body ?? {});
  }

  /** POST that must answer 2xx; returns the body. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as request()
  async submit<T = any>(path: string, body: unknown): Promise<T> {
    const r = await this.post<T>(path, body);
    if (r.status < 200 || r.status > 299) {
      throw new Error(`POST ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    return r.body;
  }

  /** Every agent the registry lists (follows the cursor). */
  async agents(): Promise<{ id: string; load: number; status: string; expiresAt: string }[]> {
    const out: { id: string; load: number; status: string; expiresAt: string }[] = [];
    let cursor: string | null | undefined;
    do {
      const r = await this.get(`/v1/agents?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      if (r.status !== 200) throw new Error(`GET /v1/agents: ${r.status}`);
      out.push(...(r.body.items as typeof out));
      cursor = r.body.nextCursor as string | null;
    } while (cursor);
    return out;
  }

  /** Sum of `tasks_total{status="<status>"}` over all agents in this instance's /metrics. */
  async tasksTotal(status: string): Promise<number> {
    const r = await this.get<string>('/metrics');
    let sum = 0;
    for (const line of String(r.body).split('\n')) {
      if (line.startsWith('tasks_total{') && line.includes(`status="${status}"`)) {
        sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }
}

/**
 * One isolated Switchyard install for a test file: its own Redis key prefix and bus namespace,
 * the processes it spawned, and cleanup.
 */
export class Cluster {
  readonly id = randomBytes(4).toString('hex');
  readonly prefix: string;
  readonly namespace: string;
  readonly procs: Proc[] = [];
  private readonly busNames = new Set<string>();

  constructor(
    readonly label: string,
    /** Settings for every process of this cluster (on top of the isolation ones). */
    readonly env: Record<string, string> = {},
  ) {
    this.prefix = `sytest:orch:${label}:${this.id}:`;
    this.namespace = `sytest-orch-${label}-${this.id}.`;
  }

  private baseEnv(instanceId: string): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      REDIS_URL,
      AMQP_URL,
      LOG_LEVEL: 'warn',
      SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
      REDIS_KEY_PREFIX: this.prefix,
      BUS_TRANSPORT: 'rabbitmq',
      BUS_NAMESPACE: this.namespace,
      BUS_INSTANCE_ID: instanceId,
      // Short-lived broker objects, in case cleanup misses some.
      BUS_AGENT_QUEUE_EXPIRES_MS: '120000',
      BUS_TASK_TTL_MS: '60000',
      BUS_REPLY_QUEUE_EXPIRES_MS: '60000',
      ...this.env,
    };
  }

  private spawn<P extends Proc>(
    Kind: new (name: string, child: ChildProcess) => P,
    name: string,
    args: string[],
    env: Record<string, string>,
    cwd = ROOT,
  ): P {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new Kind(name, child);
    this.procs.push(proc);
    return proc;
  }

  /** Starts `switchyard serve` on a free port and waits for /health/ready. */
  async startControlPlane(name: string, env: Record<string, string> = {}): Promise<ControlPlane> {
    const port = await freePort();
    const instanceId = `${name}-${this.id}`;
    this.busNames.add(instanceId);
    const cp = this.spawn(ControlPlane, name, ['serve'], {
      ...this.baseEnv(instanceId),
      HOST: '127.0.0.1',
      PORT: String(port),
      LIVE_INSTANCE_ID: instanceId,
      ...env,
    });
    cp.url = `http://127.0.0.1:${port}`;
    let lastReady = 'no answer yet';
    await this.waitFor(
      async () => {
        if (!cp.alive) throw new Error(`${name} exited during startup\n${cp.describe()}`);
        try {
          const r = await fetch(`${cp.url}/health/ready`, { signal: AbortSignal.timeout(2000) });
          lastReady = `${r.status} ${(await r.text()).slice(0, 1000)}`;
          return r.status === 200;
        } catch (e) {
          lastReady = (e as Error).message;
          return false;
        }
      },
      60_000,
      `${name} /health/ready`,
      200,
      () => lastReady,
    );
    return cp;
  }

  /**
   * Starts `switchyard worker --agents DIR` as WORKER_ID=`workerId` and waits until `api` lists
   * each agent of `agentNames` as `<name>@<workerId>`. `cwd` is the worker's directory (builtin
   * agents read and write below it; command agents' relative paths start there): the repository
   * root unless given.
   */
  async startWorker(
    workerId: string,
    agentsDir: string,
    agentNames: string[],
    api: Api,
    env: Record<string, string> = {},
    cwd = ROOT,
  ): Promise<Proc> {
    const instanceId = `${workerId}-${this.id}`;
    this.busNames.add(instanceId);
    // Bus queues to delete at the end: the worker's own and one per agent file (named like it).
    this.busNames.add(`worker.${workerId}`);
    for (const n of [...agentNames, ...mdBasenames(agentsDir)])
      this.busNames.add(`${n}@${workerId}`);
    const w = this.spawn(
      Proc,
      workerId,
      ['worker', '--agents', agentsDir],
      {
        ...this.baseEnv(instanceId),
        WORKER_ID: workerId,
        WORKER_HEARTBEAT_INTERVAL_MS: '500',
        WORKER_AGENT_TTL_SECONDS: '3',
        WORKER_DRAIN_TIMEOUT_MS: '1000',
        WORKER_KILL_GRACE_MS: '200',
        // Where the worker's agents reach Switchyard (MCP / REST delegation): the control plane
        // the test registers them through.
        SWITCHYARD_URL: api.url,
        ...env,
      },
      cwd,
    );
    const want = agentNames.map((n) => `${n}@${workerId}`);
    await this.waitFor(
      async () => {
        if (!w.alive) throw new Error(`worker ${workerId} exited during startup`);
        const ids = new Set((await api.agents()).map((a) => a.id));
        return want.every((id) => ids.has(id));
      },
      60_000,
      `agents ${want.join(', ')} registered`,
    );
    return w;
  }

  /**
   * Starts one worker per id (each as {@link startWorker}, in parallel) and returns them by the
   * registry id of their `agentName` agent (`<agentName>@<workerId>`): what {@link busyAgent}
   * answers, for tests that kill the worker running a task.
   */
  async startWorkers(
    workerIds: string[],
    agentsDir: string,
    agentName: string,
    api: Api,
    env: Record<string, string> = {},
  ): Promise<Map<string, Proc>> {
    const procs = await Promise.all(
      workerIds.map((id) => this.startWorker(id, agentsDir, [agentName], api, env)),
    );
    return new Map(workerIds.map((id, i) => [`${agentName}@${id}`, procs[i]]));
  }

  /** Waits until task `taskId` is COMPLETED, FAILED or CANCELLED; returns its record. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a task record, as Api.get
  async waitForTaskEnd(api: Api, taskId: string, timeoutMs: number, what: string): Promise<any> {
    return this.waitFor(
      async () => {
        const r = await api.get(`/v1/tasks/${taskId}`);
        return isTerminal(r.body.status) ? r.body : undefined;
      },
      timeoutMs,
      what,
    );
  }

  /** The stderr tails of every process, for failure messages. */
  describe(): string {
    return this.procs.map((p) => p.describe()).join('\n');
  }

  /**
   * Polls `check` every `everyMs` until it returns a truthy value (returned) or `timeoutMs`
   * passes: then fails with `what`, the last value and the processes' stderr tails.
   */
  async waitFor<T>(
    check: () => Promise<T | undefined | false | null>,
    timeoutMs: number,
    what: string,
    everyMs = 200,
    describeLast: (last: unknown) => string = (v) => JSON.stringify(v)?.slice(0, 2000) ?? '',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      last = await check();
      if (last) return last as T;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; last: ${describeLast(last)}\n${this.describe()}`,
        );
      }
      await sleep(everyMs);
    }
  }

  /** Stops every process (workers first, SIGTERM then SIGKILL), then deletes Redis keys and bus objects. */
  async destroy(): Promise<void> {
    const workers = this.procs.filter((p) => !(p instanceof ControlPlane));
    const cps = this.procs.filter((p) => p instanceof ControlPlane);
    await Promise.all(workers.map((p) => p.stop(4000)));
    await Promise.all(cps.map((p) => p.stop(4000)));
    await deletePrefix(this.prefix).catch(() => undefined);
    await deleteBusNamespace(this.namespace, [...this.busNames]).catch(() => undefined);
  }
}

/** A task status no task leaves. */
export function isTerminal(status: string): boolean {
  return status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED';
}

/**
 * The id of the one `<agentName>@...` agent carrying load, as `api` lists them; undefined while
 * none or several do.
 */
export async function busyAgent(api: Api, agentName: string): Promise<string | undefined> {
  const busy = (await api.agents()).filter((a) => a.id.startsWith(`${agentName}@`) && a.load > 0);
  return busy.length === 1 ? busy[0].id : undefined;
}

/** The JSON lines a test agent appended to `file` so far (none while it does not exist). */
export function readJsonLines<T>(file: string): T[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as T);
  } catch {
    return [];
  }
}

/**
 * Whether `pid` is a live process. A zombie counts as dead: it has exited and only waits to be
 * reaped, which in a container may be nobody's job.
 */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Deletes the bus objects of a namespace: fixed queues and exchanges, and the task, response and
 * broadcast queues of `names`. One channel per delete: a failing delete closes its channel.
 */
async function deleteBusNamespace(namespace: string, names: string[]): Promise<void> {
  const t = new BusTopology(namespace);
  const conn = await amqp.connect(AMQP_URL);
  try {
    const queues = [
      t.orchestratorQueue,
      t.parkingQueue,
      ...names.flatMap((n) => [
        t.agentQueue(n),
        t.responseQueue(n),
        ...Array.from({ length: 6 }, (_, i) => t.broadcastQueue(n, i + 1)),
      ]),
    ];
    const exchanges = [
      t.tasksExchange,
      t.broadcastsExchange,
      t.responsesExchange,
      t.deadLetterExchange,
    ];
    const each = async (fn: (ch: amqp.Channel) => Promise<unknown>) => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        await fn(ch);
        await ch.close();
      } catch {
        /* missing: the channel is closed by the broker */
      }
    };
    await Promise.all(queues.map((q) => each((ch) => ch.deleteQueue(q))));
    await Promise.all(exchanges.map((x) => each((ch) => ch.deleteExchange(x))));
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/**
 * Watches one control plane's live feed (which carries every instance's events) for
 * `task.completed`, to check that no task completes twice.
 */
export class CompletionWatch {
  private constructor(readonly client: LiveTestClient) {}

  static async open(url: string): Promise<CompletionWatch> {
    const client = await LiveTestClient.connect(url, { query: `?token=${ADMIN_TOKEN}` });
    await client.first('welcome', 15_000);
    client.send({ type: 'subscribe', id: 'done', filters: { types: ['task.completed'] } });
    await client.first('subscribed', 15_000);
    return new CompletionWatch(client);
  }

  /** task.completed events seen, by task id. */
  counts(): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of this.client.events()) {
      const id = e.event.taskId as string | undefined;
      if (id) m.set(id, (m.get(id) ?? 0) + 1);
    }
    return m;
  }

  /** Feed messages lost to backpressure (must be 0 for the counts to mean anything). */
  dropped(): number {
    return this.client.ofType('dropped').reduce((n, m) => n + Number(m.count ?? 0), 0);
  }

  close(): void {
    this.client.close();
  }
}
