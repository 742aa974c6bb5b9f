import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type Redis from 'ioredis';
import { AppException, type FieldProblem } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { decodeCursor, encodeCursor, type Page } from '../common/http/pagination';
import { ConfigService } from '../config/config.service';
import { EventsService } from '../events/events.service';
import type { SwitchyardEventType } from '../events/switchyard-event.type';
import { MetricsService } from '../observability/metrics.service';
import { withSpan } from '../observability/tracing';
import { defineLuaCommands, RedisService } from '../redis/redis.service';
import { decideRetry, resolveRetryPolicy, toTaskError } from '../resilience/retry-policy';
import { cycleInComponent, cyclicComponents, findFirstCycle } from './dag.util';
import type { CreateTaskInput, CreateWorkflowInput, ListTasksQuery } from './task.schemas';
import {
  type CancelReason,
  type RetryPolicyConfig,
  type TaskError,
  type TaskHandler,
  type TaskHandlerOutcome,
  type TaskRecord,
  TaskStatus,
} from './task.types';
import { evictionPolicyVerdict } from './eviction-policy.util';
import { buildInputs, decodeTask, type DependencyInfo, flatToObject } from './task-record.codec';
import { type ReadyEntry, type TaskJobData, TaskJobsAdapter } from './task-jobs.adapter';

/** [kind, taskId|workflowId, reason, capability, workflowId, agentId, attempt, priority] */
type ScriptEvent = [string, string, string, string, string, string, string, string];

interface ScriptResult {
  ok: boolean;
  ready: ReadyEntry[] | Record<string, never>;
  events: ScriptEvent[] | Record<string, never>;
  status?: string;
  attempt?: number;
  existing?: string;
  conflict?: string;
  ids?: string[];
  cancelled?: [string, string, number][] | Record<string, never>;
  revived?: string[] | Record<string, never>;
}

/** The Lua commands of commands/ (defined on the queue connection by defineLuaCommands). */
interface QueueCommands {
  enqueue(base: string, input: string, now: number): Promise<string>;
  start(
    base: string,
    id: string,
    gen: string,
    now: number,
    graceMs: number,
  ): Promise<[string[], string[], number] | null>;
  complete(
    base: string,
    id: string,
    attempt: number,
    result: string,
    now: number,
    agent: string,
  ): Promise<string>;
  fail(
    base: string,
    id: string,
    attempt: number,
    mode: 'retry' | 'defer' | 'fail',
    error: string,
    due: number,
    reason: string,
    now: number,
    agent: string,
  ): Promise<string>;
  cancel(
    base: string,
    what: 'task' | 'workflow',
    id: string,
    reason: string,
    now: number,
  ): Promise<string>;
  requeue(base: string, id: string, now: number): Promise<string>;
  blockedGraph(base: string): Promise<[number, string[], (string | number)[]]>;
}

/** One task as the queue stores it, before it has an id-resolved dependency list. */
interface NewTask {
  id: string;
  wf?: string;
  ref?: string;
  desc?: string;
  cap: string;
  payload: string;
  prio: number;
  deps: string[];
  depsJson: string;
  onDep: string;
  timeout: number;
  retry: string;
  idem?: string;
}

export interface WorkflowRecord {
  id: string;
  name?: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  idempotencyKey?: string;
}

export interface QueueCounts {
  ready: number;
  blocked: number;
  running: number;
  delayed: number;
  completed: number;
  failed: number;
  cancelled: number;
  deadLetter: number;
}

export interface DeadlockCycle {
  /** Task ids in dependency order: each waits for the next, the last for the first. */
  taskIds: string[];
  /** The task the resolver cancels: lowest priority, newest on a tie. */
  victim: string;
}

export type FailResult =
  | { accepted: false; status: string }
  | { accepted: true; status: 'retrying'; retryAt: string; attempt: number }
  | { accepted: true; status: 'failed' };

const asArray = <T>(v: T[] | Record<string, never> | undefined): T[] => (Array.isArray(v) ? v : []);

const EVENT_TYPES: Record<string, SwitchyardEventType> = {
  created: 'task.created',
  ready: 'task.ready',
  retrying: 'task.retrying',
  waiting: 'task.waiting',
  completed: 'task.completed',
  failed: 'task.failed',
  cancelled: 'task.cancelled',
};

/** Where the Lua files are: beside this file (ts-jest/swc) or back in src/ (compiled dist/). */
function commandsDir(): string {
  const here = join(__dirname, 'commands');
  if (existsSync(here)) return here;
  return join(__dirname, '..', '..', '..', 'src', 'queue', 'commands');
}

/**
 * The task queue: task records and DAG bookkeeping in Redis (atomic Lua scripts), BullMQ for the
 * READY work. See docs/TASK-QUEUE.md.
 */
@Injectable()
export class TaskQueueService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TaskQueueService.name);
  private conn!: Redis & QueueCommands;
  /** Base of every task key, e.g. `sy:q:tasks:`. */
  readonly base: string;
  readonly jobs: TaskJobsAdapter;
  private readonly defaults: RetryPolicyConfig;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, { attempt: number; controller: AbortController }>();
  private unsubscribe?: () => void;
  private pending: {
    entries: ReadyEntry[];
    waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  } | null = null;
  private handler?: TaskHandler;
  /** Set while applying an outcome inside the worker (no caller waits for the job pushes). */
  private readonly inProcessor = new AsyncLocalStorage<true>();

  constructor(
    private readonly config: ConfigService,
    private readonly redis: RedisService,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
  ) {
    this.base = redis.key('q', config.queue.name) + ':';
    this.jobs = new TaskJobsAdapter(
      redis,
      config.queue.name,
      redis.key('bull'),
      config.queue.stalledIntervalMs,
      config.queue.lockDurationMs,
    );
    this.defaults = {
      maxRetries: config.queue.retryMaxRetries,
      baseDelayMs: config.queue.retryBaseDelayMs,
      maxDelayMs: config.queue.retryMaxDelayMs,
      jitter: [config.queue.retryJitterMin, config.queue.retryJitterMax],
    };
  }

  async onModuleInit(): Promise<void> {
    this.conn = this.redis.createConnection({
      name: 'switchyard-queue',
      // Concurrent workers' scripts issued in the same tick go out in one write.
      enableAutoPipelining: true,
    }) as Redis & QueueCommands;
    defineLuaCommands(this.conn, commandsDir());
    await this.checkEvictionPolicy();
    this.jobs.open();
    this.unsubscribe = this.events.subscribe((e) => {
      if (e.type === 'task.cancelled' && e.taskId) this.abortLocal(e.taskId, 'cancelled');
    });
  }

  onApplicationBootstrap(): void {
    const q = this.config.queue;
    if (q.reconcileIntervalMs > 0) {
      this.every(q.reconcileIntervalMs, async () => {
        await this.reconcile();
        await this.counts(); // keeps task_queue_size fresh
      });
    }
    if (q.deadlockCheckIntervalMs > 0) {
      this.every(q.deadlockCheckIntervalMs, () => this.resolveDeadlocks().then(() => undefined));
    }
  }

  async onModuleDestroy(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.unsubscribe?.();
    await this.jobs.close().catch((e: Error) => this.logger.warn(`closing bullmq: ${e.message}`));
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let busy = false;
    const t = setInterval(() => {
      if (busy) return;
      busy = true;
      fn()
        .catch((e: Error) => this.logger.warn(`queue housekeeping: ${e.message}`))
        .finally(() => (busy = false));
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Redis must not evict queue data: refuse to start unless maxmemory-policy is noeviction. */
  private async checkEvictionPolicy(): Promise<void> {
    let policy: string | undefined;
    try {
      const reply = await this.conn.config('GET', 'maxmemory-policy');
      policy = reply[1];
    } catch (e) {
      this.logger.warn(`could not read Redis maxmemory-policy: ${(e as Error).message}`);
      return;
    }
    const { verdict, message } = evictionPolicyVerdict(policy, this.config.redis.allowEviction);
    if (verdict === 'refuse') throw new Error(message);
    if (verdict === 'warn') this.logger.warn(message);
  }

  // ---------------------------------------------------------------- submission

  private toNewTask(
    input: Omit<CreateTaskInput, 'dependsOn' | 'idempotencyKey'>,
    id: string,
    deps: string[],
    field: string,
    extra: { wf?: string; ref?: string; idem?: string } = {},
  ): NewTask {
    const payload = JSON.stringify(input.payload ?? null);
    const bytes = Buffer.byteLength(payload, 'utf8');
    if (bytes > this.config.queue.maxPayloadBytes) {
      throw new AppException(
        ErrorCode.PayloadTooLarge,
        `${field}payload is ${bytes} bytes; the limit is ${this.config.queue.maxPayloadBytes}`,
        {
          fields: [{ field: `${field}payload`, message: 'too large' }],
          limitBytes: this.config.queue.maxPayloadBytes,
        },
      );
    }
    let retry: RetryPolicyConfig;
    try {
      retry = resolveRetryPolicy(this.defaults, input.retry ?? {});
    } catch (e) {
      throw AppException.validation('Invalid retry policy', [
        { field: `${field}retry.jitter`, message: (e as Error).message },
      ]);
    }
    return {
      id,
      wf: extra.wf,
      ref: extra.ref,
      desc: input.description,
      cap: input.capability,
      payload,
      prio: input.priority ?? 5,
      deps,
      depsJson: JSON.stringify(deps),
      onDep: input.onDependencyFailure ?? 'fail',
      timeout: input.timeoutMs ?? this.config.queue.defaultTimeoutMs,
      retry: JSON.stringify(retry),
      idem: extra.idem,
    };
  }

  /** Submits one task. `created` is false when the idempotency key was seen before. */
  async enqueue(input: CreateTaskInput): Promise<{ task: TaskRecord; created: boolean }> {
    return withSpan('task_enqueue', { capability: input.capability }, async () => {
      const id = input.id ?? randomUUID();
      const deps = [...new Set(input.dependsOn ?? [])];
      if (deps.includes(id)) {
        throw new AppException(ErrorCode.ValidationFailed, `Task '${id}' depends on itself`, {
          cycle: [id],
          fields: [{ field: 'dependsOn', message: 'a task cannot depend on itself' }],
        });
      }
      const task = this.toNewTask(input, id, deps, '', { idem: input.idempotencyKey });
      const res = await this.runEnqueue({
        tasks: [task],
        idem: input.idempotencyKey ?? null,
        workflow: null,
      });
      if (res.existing) return { task: await this.getTask(res.existing), created: false };
      return { task: await this.getTask(id), created: true };
    });
  }

  /** Bulk submission without a workflow (benchmarks, imports): one script call per chunk. */
  async enqueueMany(inputs: CreateTaskInput[], chunk = 500): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < inputs.length; i += chunk) {
      const tasks = inputs.slice(i, i + chunk).map((input) => {
        const id = input.id ?? randomUUID();
        return this.toNewTask(input, id, [...new Set(input.dependsOn ?? [])], '');
      });
      await this.runEnqueue({ tasks, idem: null, workflow: null });
      ids.push(...tasks.map((t) => t.id));
    }
    return ids;
  }

  /** Submits a workflow: a DAG of tasks with local refs. Refused with 400 if it has a cycle. */
  async submitWorkflow(
    input: CreateWorkflowInput,
  ): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[]; created: boolean }> {
    return withSpan('task_enqueue', { workflow: true, tasks: input.tasks.length }, async () => {
      const max = this.config.queue.maxWorkflowTasks;
      if (input.tasks.length > max) {
        throw AppException.validation(`A workflow may have at most ${max} tasks`, [
          { field: 'tasks', message: `at most ${max} tasks (got ${input.tasks.length})` },
        ]);
      }
      const problems: FieldProblem[] = [];
      const byRef = new Map<string, number>();
      const explicitIds = new Set<string>();
      input.tasks.forEach((t, i) => {
        if (byRef.has(t.ref))
          problems.push({ field: `tasks.${i}.ref`, message: `duplicate ref '${t.ref}'` });
        byRef.set(t.ref, i);
        if (t.id !== undefined) {
          if (explicitIds.has(t.id))
            problems.push({ field: `tasks.${i}.id`, message: `duplicate id '${t.id}'` });
          explicitIds.add(t.id);
        }
      });
      input.tasks.forEach((t, i) =>
        (t.dependsOn ?? []).forEach((ref, j) => {
          if (!byRef.has(ref)) {
            problems.push({ field: `tasks.${i}.dependsOn.${j}`, message: `unknown ref '${ref}'` });
          }
        }),
      );
      if (problems.length > 0) throw AppException.validation('Invalid workflow', problems);
      const graph = new Map(input.tasks.map((t) => [t.ref, t.dependsOn ?? []] as const));
      const cycle = findFirstCycle(graph);
      if (cycle) {
        throw new AppException(
          ErrorCode.ValidationFailed,
          `The workflow has a dependency cycle: ${[...cycle, cycle[0]].join(' -> ')}`,
          {
            cycle,
            fields: [
              {
                field: `tasks.${byRef.get(cycle[0])}.dependsOn`,
                message: `cycle ${[...cycle, cycle[0]].join(' -> ')}`,
              },
            ],
          },
        );
      }
      const workflowId = randomUUID();
      const idOf = new Map(input.tasks.map((t) => [t.ref, t.id ?? randomUUID()] as const));
      const tasks = input.tasks.map((t, i) => {
        const deps = [
          ...new Set([
            ...(t.dependsOn ?? []).map((r) => idOf.get(r)!),
            ...(t.dependsOnTasks ?? []),
          ]),
        ];
        return this.toNewTask(t, idOf.get(t.ref)!, deps, `tasks.${i}.`, {
          wf: workflowId,
          ref: t.ref,
        });
      });
      const res = await this.runEnqueue({
        tasks,
        idem: null,
        workflow: { id: workflowId, name: input.name ?? '', idem: input.idempotencyKey ?? null },
      });
      const id = res.existing ?? workflowId;
      const wf = await this.getWorkflow(id);
      return { ...wf, created: res.existing === undefined };
    });
  }

  private async runEnqueue(input: {
    tasks: NewTask[];
    idem: string | null;
    workflow: { id: string; name: string; idem: string | null } | null;
  }): Promise<ScriptResult> {
    const res = this.parse(await this.conn.enqueue(this.base, JSON.stringify(input), Date.now()));
    if (res.conflict) {
      throw new AppException(ErrorCode.Conflict, `Task '${res.conflict}' already exists`, {
        taskId: res.conflict,
      });
    }
    await this.afterScript(res);
    return res;
  }

  // ---------------------------------------------------------------- reads

  async findTask(id: string): Promise<TaskRecord | undefined> {
    const h = await this.conn.hgetall(this.key('t', id));
    if (!h.id) return undefined;
    const deps = JSON.parse(h.deps ?? '[]') as string[];
    let inputs: Record<string, unknown> | undefined;
    if (deps.length > 0) {
      const p = this.conn.pipeline();
      for (const d of deps) p.hmget(this.key('t', d), 'ref', 'wf', 'status', 'result');
      const rows = (await p.exec()) ?? [];
      inputs = buildInputs(
        h.wf || undefined,
        deps.map((d, i) => {
          const r = (rows[i]?.[1] ?? []) as (string | null)[];
          return [d, r[0] ?? '', r[1] ?? '', r[2] ?? '', r[3] ?? ''] as DependencyInfo;
        }),
      );
    }
    return decodeTask(h, inputs);
  }

  async getTask(id: string): Promise<TaskRecord> {
    const t = await this.findTask(id);
    if (!t) throw AppException.notFound('task', id);
    return t;
  }

  private async loadMany(ids: string[]): Promise<TaskRecord[]> {
    if (ids.length === 0) return [];
    const p = this.conn.pipeline();
    for (const id of ids) p.hgetall(this.key('t', id));
    const rows = (await p.exec()) ?? [];
    const out: TaskRecord[] = [];
    for (const [err, h] of rows) {
      if (err) throw err;
      const rec = h as Record<string, string>;
      if (rec.id) out.push(decodeTask(rec));
    }
    return out;
  }

  /** Adds each task's inputs (its COMPLETED dependencies' results), one pipeline for all. */
  private async withInputs(tasks: TaskRecord[]): Promise<TaskRecord[]> {
    const deps = [...new Set(tasks.flatMap((t) => t.dependsOn))];
    if (deps.length === 0) return tasks;
    const p = this.conn.pipeline();
    for (const d of deps) p.hmget(this.key('t', d), 'ref', 'wf', 'status', 'result');
    const rows = (await p.exec()) ?? [];
    const info = new Map<string, DependencyInfo>();
    deps.forEach((d, i) => {
      const r = (rows[i]?.[1] ?? []) as (string | null)[];
      info.set(d, [d, r[0] ?? '', r[1] ?? '', r[2] ?? '', r[3] ?? '']);
    });
    for (const t of tasks) {
      const inputs = buildInputs(
        t.workflowId,
        t.dependsOn.map((d) => info.get(d)!),
      );
      if (inputs) t.inputs = inputs;
    }
    return tasks;
  }

  /** Tasks filtered by status, agent, workflow and capability, oldest first, cursor-paginated. */
  async listTasks(q: ListTasksQuery): Promise<Page<TaskRecord>> {
    const source = q.workflow
      ? this.key('w', q.workflow, 'tasks')
      : q.status
        ? this.key('s', q.status)
        : this.key('all');
    return this.scanIndex(
      source,
      q.limit,
      q.cursor,
      (t) =>
        (!q.status || t.status === q.status) &&
        (!q.agent || t.agentId === q.agent) &&
        (!q.capability || t.capability === q.capability),
    );
  }

  private async scanIndex(
    key: string,
    limit: number,
    cursor: string | undefined,
    keep: (t: TaskRecord) => boolean = () => true,
  ): Promise<Page<TaskRecord>> {
    const raw = decodeCursor(cursor);
    const after = raw === undefined ? undefined : Number(raw);
    if (raw !== undefined && !/^\d+$/.test(raw)) {
      throw AppException.validation('Invalid cursor', [
        { field: 'cursor', message: 'not a cursor from a previous page' },
      ]);
    }
    const items: TaskRecord[] = [];
    let min = after === undefined ? '-inf' : `(${after}`;
    let scanned = 0;
    const budget = Math.max(limit * 20, 2000);
    while (items.length < limit && scanned < budget) {
      const batch = await this.conn.zrangebyscore(
        key,
        min,
        '+inf',
        'WITHSCORES',
        'LIMIT',
        0,
        Math.min(500, budget),
      );
      if (batch.length === 0) return { items, nextCursor: null };
      const ids: string[] = [];
      const scores: number[] = [];
      for (let i = 0; i < batch.length; i += 2) {
        ids.push(batch[i]);
        scores.push(Number(batch[i + 1]));
      }
      const recs = await this.loadMany(ids);
      const bySeqIndex = new Map(recs.map((r) => [r.id, r] as const));
      for (let i = 0; i < ids.length; i++) {
        scanned++;
        const r = bySeqIndex.get(ids[i]);
        min = `(${scores[i]}`;
        if (r && keep(r)) {
          items.push(r);
          if (items.length === limit) {
            const more = await this.conn.zcount(key, min, '+inf');
            return { items, nextCursor: more > 0 ? encodeCursor(String(scores[i])) : null };
          }
        }
      }
      if (ids.length < 250) return { items, nextCursor: null };
    }
    return { items, nextCursor: encodeCursor(min.slice(1)) };
  }

  async findWorkflow(id: string): Promise<WorkflowRecord | undefined> {
    const h = await this.conn.hgetall(this.key('w', id));
    if (!h.id) return undefined;
    const iso = (v: string | undefined) => (v ? new Date(Number(v)).toISOString() : undefined);
    const wf: WorkflowRecord = {
      id: h.id,
      name: h.name || undefined,
      status: (h.status === 'CANCELLING' ? 'RUNNING' : h.status) as WorkflowRecord['status'],
      total: Number(h.total),
      completed: Number(h.completed),
      failed: Number(h.failed),
      cancelled: Number(h.cancelled),
      createdAt: iso(h.created)!,
      updatedAt: iso(h.updated)!,
      finishedAt: iso(h.finished),
      idempotencyKey: h.idem || undefined,
    };
    for (const k of Object.keys(wf) as (keyof WorkflowRecord)[])
      if (wf[k] === undefined) delete wf[k];
    return wf;
  }

  async getWorkflow(id: string): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[] }> {
    const workflow = await this.findWorkflow(id);
    if (!workflow) throw AppException.notFound('workflow', id);
    const ids = await this.conn.zrange(this.key('w', id, 'tasks'), '0', '-1');
    return { workflow, tasks: await this.withInputs(await this.loadMany(ids)) };
  }

  async counts(): Promise<QueueCounts> {
    const p = this.conn.pipeline();
    for (const s of ['READY', 'BLOCKED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'])
      p.zcard(this.key('s', s));
    p.zcard(this.key('delayed'));
    p.zcard(this.key('dead'));
    const r = ((await p.exec()) ?? []).map(([e, v]) => {
      if (e) throw e;
      return Number(v);
    });
    const counts: QueueCounts = {
      ready: r[0] - r[6],
      blocked: r[1],
      running: r[2],
      delayed: r[6],
      completed: r[3],
      failed: r[4],
      cancelled: r[5],
      deadLetter: r[7],
    };
    for (const [state, n] of Object.entries(counts) as [string, number][]) {
      this.metrics.taskQueueSize.set({ queue_name: `${this.config.queue.name}:${state}` }, n);
    }
    return counts;
  }

  async deadLetter(limit: number, cursor?: string): Promise<Page<TaskRecord>> {
    return this.scanIndex(this.key('dead'), limit, cursor);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Pull-style dequeue: the next READY task (highest priority, FIFO within), now RUNNING. */
  async dequeue(): Promise<TaskRecord | null> {
    return withSpan('task_dequeue', {}, async () => {
      for (;;) {
        const got = await this.jobs.pull((data) => this.start(data));
        if (!got) return null;
        if (got.value) return got.value.task;
      }
    });
  }

  /** Marks the task of a job RUNNING; undefined for a stale job. */
  private async start(
    data: TaskJobData,
  ): Promise<{ task: TaskRecord; redelivered: boolean } | undefined> {
    const now = Date.now();
    const res = await this.conn.start(
      this.base,
      data.taskId,
      String(data.gen),
      now,
      this.config.queue.reconcileGraceMs,
    );
    if (!res) return undefined;
    const [flat, depFlat, redelivered] = res;
    const h = flatToObject(flat);
    const deps: DependencyInfo[] = [];
    for (let i = 0; i + 4 < depFlat.length; i += 5) {
      deps.push(depFlat.slice(i, i + 5) as DependencyInfo);
    }
    const task = decodeTask(h, buildInputs(h.wf || undefined, deps));
    if (h.readyAt && !redelivered) {
      this.metrics.dispatchLatency.observe(
        { capability: task.capability },
        Math.max(0, now - Number(h.readyAt)) / 1000,
      );
    }
    this.events.emit('task.running', {
      taskId: task.id,
      workflowId: task.workflowId,
      capability: task.capability,
      data: { attempt: task.attempt, redelivered: redelivered === 1 },
    });
    return { task, redelivered: redelivered === 1 };
  }

  /** Completes attempt `attempt` of a RUNNING task exactly once; false for a late/duplicate reply. */
  async complete(
    taskId: string,
    attempt: number,
    result: unknown,
    agentId?: string,
  ): Promise<boolean> {
    const res = this.parse(
      await this.conn.complete(
        this.base,
        taskId,
        attempt,
        JSON.stringify(result ?? null),
        Date.now(),
        agentId ?? '',
      ),
    );
    if (!res.ok) {
      this.metrics.duplicateRepliesTotal.inc({ reason: 'complete' });
      return false;
    }
    await this.afterScript(res);
    return true;
  }

  /**
   * Fails attempt `attempt` of a RUNNING task: retried after a backoff when the policy allows,
   * else FAILED and dead-lettered.
   */
  async fail(
    taskId: string,
    attempt: number,
    error: TaskError,
    agentId?: string,
  ): Promise<FailResult> {
    const raw = await this.conn.hmget(this.key('t', taskId), 'retry', 'status', 'attempt', 'agent');
    if (raw[1] !== 'RUNNING' || raw[2] !== String(attempt)) {
      this.metrics.duplicateRepliesTotal.inc({ reason: 'fail' });
      return { accepted: false, status: raw[1] ?? 'UNKNOWN' };
    }
    const policy = JSON.parse(raw[0] ?? 'null') as RetryPolicyConfig;
    const decision = decideRetry(error, attempt, policy);
    const now = Date.now();
    const agent = agentId ?? raw[3] ?? '';
    const res = decision.retry
      ? this.parse(
          await this.conn.fail(
            this.base,
            taskId,
            attempt,
            'retry',
            JSON.stringify(error),
            now + decision.delayMs,
            'retry',
            now,
            agentId ?? '',
          ),
        )
      : this.parse(
          await this.conn.fail(
            this.base,
            taskId,
            attempt,
            'fail',
            JSON.stringify(error),
            0,
            decision.reason === 'non_retryable' ? error.type : 'retries_exhausted',
            now,
            agentId ?? '',
          ),
        );
    if (!res.ok) {
      this.metrics.duplicateRepliesTotal.inc({ reason: 'fail' });
      return { accepted: false, status: res.status ?? 'UNKNOWN' };
    }
    await this.afterScript(res);
    if (decision.retry) {
      this.metrics.retryAttemptsTotal.inc({ agent: agent || 'none', error_type: error.type });
      this.logger.log(
        `task ${taskId} attempt ${attempt} failed (${error.type}); retry in ${decision.delayMs} ms`,
      );
      return {
        accepted: true,
        status: 'retrying',
        retryAt: new Date(now + decision.delayMs).toISOString(),
        attempt: attempt + 1,
      };
    }
    return { accepted: true, status: 'failed' };
  }

  /** Not an attempt (e.g. no agent free): READY again after `delayMs`, same attempt. */
  async defer(taskId: string, attempt: number, reason: string, delayMs: number): Promise<boolean> {
    const now = Date.now();
    const res = this.parse(
      await this.conn.fail(
        this.base,
        taskId,
        attempt,
        'defer',
        '',
        now + Math.max(0, delayMs),
        `deferred: ${reason}`,
        now,
        '',
      ),
    );
    if (!res.ok) return false;
    await this.afterScript(res);
    return true;
  }

  /** Cancels a non-terminal task; a RUNNING one is told to abort (task.cancelled event). */
  async cancel(taskId: string, reason: CancelReason = 'user'): Promise<TaskRecord> {
    const res = this.parse(await this.conn.cancel(this.base, 'task', taskId, reason, Date.now()));
    if (!res.ok) {
      if (!res.status) throw AppException.notFound('task', taskId);
      throw new AppException(ErrorCode.Conflict, `Task '${taskId}' is already ${res.status}`, {
        taskId,
        status: res.status,
      });
    }
    await this.afterScript(res, this.wasRunning(res));
    return this.getTask(taskId);
  }

  /** Cancels every non-terminal task of a workflow. */
  async cancelWorkflow(
    workflowId: string,
  ): Promise<{ workflow: WorkflowRecord; cancelled: number }> {
    const res = this.parse(
      await this.conn.cancel(this.base, 'workflow', workflowId, 'user', Date.now()),
    );
    if (!res.ok) {
      if (!res.status) throw AppException.notFound('workflow', workflowId);
      throw new AppException(
        ErrorCode.Conflict,
        `Workflow '${workflowId}' is already ${res.status}`,
        {
          workflowId,
          status: res.status,
        },
      );
    }
    await this.afterScript(res, this.wasRunning(res));
    return {
      workflow: (await this.findWorkflow(workflowId))!,
      cancelled: asArray(res.cancelled).length,
    };
  }

  private wasRunning(res: ScriptResult): Set<string> {
    return new Set(
      asArray(res.cancelled)
        .filter((c) => c[1] === 'RUNNING')
        .map((c) => c[0]),
    );
  }

  /** Runs a dead-lettered task again from attempt 0 (and revives dependents it had failed). */
  async requeue(taskId: string): Promise<TaskRecord> {
    const res = this.parse(await this.conn.requeue(this.base, taskId, Date.now()));
    if (!res.ok) {
      if (!res.status) throw AppException.notFound('task', taskId);
      throw new AppException(
        ErrorCode.Conflict,
        `Task '${taskId}' is ${res.status}, not in the dead-letter list`,
        {
          taskId,
          status: res.status,
        },
      );
    }
    await this.afterScript(res);
    return this.getTask(taskId);
  }

  // ---------------------------------------------------------------- deadlocks

  /** Cycles among BLOCKED tasks. */
  async detectDeadlocks(): Promise<{ cycles: DeadlockCycle[]; blocked: number; tookMs: number }> {
    const t0 = performance.now();
    const [blockedCount, suspects, flat] = await this.conn.blockedGraph(this.base);
    const graph = new Map<string, string[]>();
    for (let i = 0; i < flat.length;) {
      const id = String(flat[i]);
      const n = Number(flat[i + 1]);
      graph.set(id, flat.slice(i + 2, i + 2 + n).map(String));
      i += 2 + n;
    }
    const components = cyclicComponents(graph);
    const raw = components.map((c) => cycleInComponent(graph, c));
    // A suspect on no cycle now can only be on a future cycle through a newer suspect.
    const onCycle = new Set(components.flat());
    const cleared = suspects.filter((id) => !onCycle.has(id));
    if (cleared.length > 0) await this.conn.srem(this.key('suspects'), ...cleared);
    const cycles: DeadlockCycle[] = [];
    if (raw.length > 0) {
      const p = this.conn.pipeline();
      for (const c of raw) for (const id of c) p.hmget(this.key('t', id), 'prio', 'seq');
      const rows = (await p.exec()) ?? [];
      let r = 0;
      for (const c of raw) {
        let victim = c[0];
        let best: [number, number] = [Infinity, -Infinity];
        for (const id of c) {
          const [prio, seq] = (rows[r++]?.[1] ?? ['0', '0']) as string[];
          const key: [number, number] = [Number(prio), Number(seq)];
          if (key[0] < best[0] || (key[0] === best[0] && key[1] > best[1])) {
            best = key;
            victim = id;
          }
        }
        cycles.push({ taskIds: c, victim });
      }
    }
    return {
      cycles,
      blocked: blockedCount,
      tookMs: Math.round((performance.now() - t0) * 1000) / 1000,
    };
  }

  /** Cancels the lowest-priority task of each cycle (reason deadlock), until no cycle is left. */
  async resolveDeadlocks(): Promise<{ resolved: { cycle: string[]; cancelled: string }[] }> {
    const resolved: { cycle: string[]; cancelled: string }[] = [];
    for (let round = 0; round < 100; round++) {
      const { cycles } = await this.detectDeadlocks();
      if (cycles.length === 0) break;
      for (const c of cycles) {
        const res = this.parse(
          await this.conn.cancel(this.base, 'task', c.victim, 'deadlock', Date.now()),
        );
        if (!res.ok) continue;
        this.logger.warn(
          `deadlock: cancelled task ${c.victim} (lowest priority) to break the cycle ${[...c.taskIds, c.taskIds[0]].join(' -> ')}`,
        );
        this.events.emit('task.deadlocked', { taskId: c.victim, data: { cycle: c.taskIds } });
        await this.afterScript(res);
        resolved.push({ cycle: c.taskIds, cancelled: c.victim });
      }
    }
    return { resolved };
  }

  // ---------------------------------------------------------------- processing

  /**
   * Runs READY tasks through `handler`, `concurrency` at a time on this instance (a BullMQ
   * worker: highest priority first, FIFO within; a crashed instance's jobs are re-run by the
   * stalled-job check).
   */
  async startProcessing(
    handler: TaskHandler,
    options: { concurrency?: number } = {},
  ): Promise<void> {
    this.handler = handler;
    this.jobs.startWorker(
      (data) =>
        this.process(data).catch((e: Error) => {
          // Never fail the BullMQ job: a failed job keeps its id, so the reconciler could not
          // push it again. The task record tells what to repair: a READY task keeps its outbox
          // entry, a RUNNING one meets its deadline.
          this.logger.warn(`task ${data.taskId}: ${e.message}; the reconciler will repair it`);
        }),
      options.concurrency ?? this.config.queue.concurrency,
    );
  }

  async stopProcessing(): Promise<void> {
    await this.jobs.stopWorker();
    this.handler = undefined;
  }

  private async process(data: TaskJobData): Promise<void> {
    const handler = this.handler;
    if (!handler) throw new Error('no task handler');
    const started = await this.start(data);
    if (!started) return;
    const { task } = started;
    const controller = new AbortController();
    this.running.set(task.id, { attempt: task.attempt, controller });
    let timer: NodeJS.Timeout | undefined;
    const aborted = new Promise<'cancelled' | 'timeout'>((resolve) => {
      controller.signal.addEventListener(
        'abort',
        () => resolve(controller.signal.reason === 'timeout' ? 'timeout' : 'cancelled'),
        { once: true },
      );
      timer = setTimeout(() => controller.abort('timeout'), task.timeoutMs);
    });
    let outcome: TaskHandlerOutcome | 'cancelled';
    try {
      const winner = await withSpan(
        'task_execution',
        { 'task.id': task.id, capability: task.capability },
        () => Promise.race([handler(task, controller.signal), aborted]),
      );
      if (winner === 'cancelled') outcome = 'cancelled';
      else if (winner === 'timeout') {
        outcome = {
          kind: 'failed',
          error: {
            type: 'timeout',
            message: `no result within ${task.timeoutMs} ms`,
            retryable: true,
          },
        };
      } else outcome = winner;
    } catch (e) {
      outcome = { kind: 'failed', error: toTaskError(e) };
    } finally {
      clearTimeout(timer);
      this.running.delete(task.id);
    }
    if (outcome === 'cancelled') return;
    await this.inProcessor.run(true, () => this.applyOutcome(task, outcome));
  }

  private async applyOutcome(task: TaskRecord, outcome: TaskHandlerOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'completed':
        await this.complete(task.id, task.attempt, outcome.result, outcome.agentId);
        return;
      case 'failed':
        await this.fail(task.id, task.attempt, outcome.error, outcome.agentId);
        return;
      case 'deferred':
        await this.defer(task.id, task.attempt, outcome.reason, outcome.delayMs);
        return;
    }
  }

  private abortLocal(taskId: string, reason: string): void {
    this.running.get(taskId)?.controller.abort(reason);
  }

  // ---------------------------------------------------------------- reconciler

  /**
   * Repairs what a crash between two steps can leave behind: READY tasks whose BullMQ job was
   * never pushed (outbox entries older than the grace period) and RUNNING tasks past their
   * deadline (their runner is gone): those fail with a retryable timeout.
   */
  async reconcile(): Promise<{ repushed: number; expired: number }> {
    const now = Date.now();
    const grace = this.config.queue.reconcileGraceMs;
    const members = await this.conn.zrangebyscore(
      this.key('outbox'),
      '-inf',
      now - grace,
      'LIMIT',
      0,
      1000,
    );
    let repushed = 0;
    if (members.length > 0) {
      const p = this.conn.pipeline();
      const parsed = members.map((m) => {
        const at = m.lastIndexOf('#');
        return [m.slice(0, at), Number(m.slice(at + 1))] as const;
      });
      for (const [id] of parsed) p.hmget(this.key('t', id), 'status', 'gen', 'prio', 'readyAt');
      const rows = (await p.exec()) ?? [];
      const entries: ReadyEntry[] = [];
      parsed.forEach(([id, gen], i) => {
        const [status, g, prio, readyAt] = (rows[i]?.[1] ?? []) as (string | null)[];
        if (status === 'READY' && Number(g) === gen)
          entries.push([id, gen, Number(prio), Number(readyAt)]);
      });
      await this.jobs.add(entries);
      await this.conn.zrem(this.key('outbox'), ...members);
      repushed = entries.length;
      if (repushed > 0)
        this.logger.warn(`reconciler: pushed ${repushed} READY task(s) that had no queue job`);
    }
    const expired = await this.conn.zrangebyscore(
      this.key('running'),
      '-inf',
      now,
      'LIMIT',
      0,
      500,
    );
    for (const id of expired) {
      const [attempt, timeout, status] = await this.conn.hmget(
        this.key('t', id),
        'attempt',
        'timeout',
        'status',
      );
      if (status !== 'RUNNING') {
        await this.conn.zrem(this.key('running'), id);
        continue;
      }
      this.abortLocal(id, 'timeout');
      await this.fail(id, Number(attempt), {
        type: 'timeout',
        message: `no result within ${timeout} ms (+${grace} ms grace): its runner is gone or stuck`,
        retryable: true,
      });
    }
    return { repushed, expired: expired.length };
  }

  // ---------------------------------------------------------------- internals

  private key(...parts: string[]): string {
    return this.base + parts.join(':');
  }

  private parse(json: string): ScriptResult {
    return JSON.parse(json) as ScriptResult;
  }

  /** After a script: push the BullMQ jobs of tasks it made READY, then emit its events. */
  private async afterScript(res: ScriptResult, running: Set<string> = new Set()): Promise<void> {
    const ready = asArray(res.ready);
    if (ready.length > 0) {
      const pushed = this.pushJobs(ready);
      if (this.inProcessor.getStore()) {
        // The worker slot need not wait: the outbox covers a crash before the push.
        pushed.catch(() => undefined);
      } else {
        await pushed;
      }
    }
    this.emitScriptEvents(asArray(res.events), running);
  }

  /** Batches job pushes from concurrent callers into one addBulk per tick. */
  private pushJobs(entries: ReadyEntry[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = { entries: [], waiters: [] };
        setImmediate(() => void this.flush());
      }
      this.pending.entries.push(...entries);
      this.pending.waiters.push({ resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = null;
    if (!batch) return;
    try {
      // Outbox entries stay until the job starts (start-1.lua removes them): one round trip
      // less per batch, and a crash right after this call still leaves a trace.
      await this.jobs.add(batch.entries);
      for (const w of batch.waiters) w.resolve();
    } catch (e) {
      // The outbox keeps them: the reconciler pushes them later.
      this.logger.warn(`pushing ${batch.entries.length} job(s) failed: ${(e as Error).message}`);
      for (const w of batch.waiters) w.reject(e);
    }
  }

  private emitScriptEvents(events: ScriptEvent[], running: Set<string>): void {
    for (const [kind, id, reason, capability, workflowId, agentId, attempt] of events) {
      if (kind === 'workflow') {
        this.events.emit(`workflow.${reason.toLowerCase()}` as SwitchyardEventType, {
          workflowId: id,
        });
        continue;
      }
      const type = EVENT_TYPES[kind];
      if (!type) continue;
      if (kind === 'completed' || kind === 'failed' || kind === 'cancelled') {
        this.metrics.tasksTotal.inc({ agent: agentId || 'none', status: kind.toUpperCase() });
      }
      const data: Record<string, unknown> = { attempt: Number(attempt) };
      if (reason) data.reason = reason;
      if (running.has(id)) data.wasRunning = true;
      this.events.emit(type, {
        taskId: id,
        workflowId: workflowId || undefined,
        capability: capability || undefined,
        agentId: agentId || undefined,
        data,
      });
    }
  }
}

export { TaskStatus };
