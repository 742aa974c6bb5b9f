import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import {
  currentTraceCarrier,
  type TraceCarrier,
  tracingActive,
  withSpan,
  withSpanFrom,
} from '../observability/tracing';
import { taskLine } from '../observability/task-log';
import { resolveRetryPolicy } from '../resilience/retry-policy';
import { refusal, ScriptEffects } from './script-effects.service';
import type { ScriptResult } from './script-result';
import { TaskQueries, type WorkflowRecord } from './task-queries.service';
import { TaskStore } from './task-store.repository';
import type { CreateTaskInput, CreateWorkflowInput } from './task.schemas';
import { type RetryPolicyConfig, type TaskRecord, TaskStatus } from './task.types';
import { validateWorkflow } from './workflow-validation.util';

/** One task as the enqueue script takes it. */
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
  /** Not stored: the policy the task runs with (for the answer to the submit). */
  resolvedRetry?: RetryPolicyConfig;
  idem?: string;
  bUsd?: number;
  bTok?: number;
  /** Seconds it may wait for an agent with the capability (0 = forever). */
  waitTo?: number;
  /** W3C traceparent/tracestate of the submitting span (only when tracing is on). */
  tp?: string;
  ts?: string;
}

/** The stored form of a trace context: two short fields, absent when tracing is off. */
const traceFields = (c: TraceCarrier | undefined): { tp?: string; ts?: string } =>
  c ? { tp: c.traceparent, ...(c.tracestate ? { ts: c.tracestate } : {}) } : {};

/** A stable digest of a request body, to tell a retry from a different request under one key. */
const digest = (value: unknown): string =>
  createHash('sha256')
    .update(JSON.stringify(value) ?? 'null')
    .digest('base64url');

/** What a 503 after WAIT names: the task ids (or their count) and the workflow. */
function submissionDetails(
  input: { tasks: NewTask[]; workflow?: unknown },
  existing: string | undefined,
): Record<string, unknown> {
  const wf = (input.workflow as { id?: string } | null | undefined)?.id;
  if (existing) return wf ? { workflowId: existing } : { taskId: existing };
  const ids = input.tasks.map((t) => t.id);
  return {
    ...(wf ? { workflowId: wf } : {}),
    ...(ids.length <= 10 ? { taskIds: ids } : { tasks: ids.length, firstTaskId: ids[0] }),
  };
}

/** Submission: single tasks, delegated children, bulk loads and workflows. */
@Injectable()
export class TaskSubmission {
  private readonly logger = new Logger(TaskSubmission.name);
  private readonly defaults: RetryPolicyConfig;

  constructor(
    private readonly config: ConfigService,
    private readonly store: TaskStore,
    private readonly effects: ScriptEffects,
    private readonly queries: TaskQueries,
  ) {
    this.defaults = store.retryDefaults;
  }

  /**
   * Submits one task. `created` is false when the idempotency key was seen before (the earlier
   * task is returned). With `parentTaskId` the task is a delegated child: without an explicit
   * key, the same (parent, capability, payload) returns the earlier child unless that one failed.
   */
  async enqueue(input: CreateTaskInput): Promise<{ task: TaskRecord; created: boolean }> {
    // A child submitted without a trace context of its own (an MCP client that sends none)
    // joins its parent's trace through the context stored on the parent.
    const inherited = await this.parentTraceContext(input.parentTaskId);
    return withSpanFrom(inherited, 'task_enqueue', { capability: input.capability }, async () => {
      const id = input.id ?? randomUUID();
      const deps = [...new Set(input.dependsOn ?? [])];
      if (deps.includes(id)) {
        throw new AppException(ErrorCode.ValidationFailed, `Task '${id}' depends on itself`, {
          cycle: [id],
          fields: [{ field: 'dependsOn', message: 'a task cannot depend on itself' }],
        });
      }
      const parent = input.parentTaskId;
      const idem =
        input.idempotencyKey ??
        (parent
          ? `child:${parent}:${input.capability}:${digest(input.payload ?? null)}`
          : undefined);
      const { idempotencyKey: _key, ...body } = input;
      const task = this.toNewTask(input, id, deps, '', { idem });
      const q = this.config.queue;
      const res = await this.run({
        tasks: [task],
        idem: idem ?? null,
        idemHash: input.idempotencyKey ? digest(body) : null,
        idemReuseFailed: !input.idempotencyKey && parent !== undefined,
        workflow: null,
        parent: parent ?? null,
        limits: {
          maxDepth: q.delegationMaxDepth,
          maxChildren: q.delegationMaxChildren,
          maxRepeats: q.delegationMaxRepeats,
        },
      });
      if (res.existing) return { task: await this.queries.getTask(res.existing), created: false };
      this.logger.debug(
        taskLine(
          `task ${id} submitted (${input.capability})`,
          { taskId: id },
          {
            ...(parent ? { parent_task_id: parent } : {}),
          },
        ),
      );
      const status = res.statuses?.[0];
      // Answer from what the script returned when nothing else could have changed the record.
      if (
        !parent &&
        deps.length === 0 &&
        (status === TaskStatus.Ready || status === TaskStatus.Blocked)
      ) {
        return { task: this.recordOf(task, status, input, res.now), created: true };
      }
      return { task: await this.queries.getTask(id), created: true };
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
      await this.run({ tasks, idem: null, workflow: null });
      ids.push(...tasks.map((t) => t.id));
    }
    return ids;
  }

  /** Submits a workflow: a DAG of tasks with local refs. Refused with 400 if it has a cycle. */
  async submitWorkflow(
    input: CreateWorkflowInput,
  ): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[]; created: boolean }> {
    return withSpan('task_enqueue', { workflow: true, tasks: input.tasks.length }, async () => {
      validateWorkflow(input, this.config.queue.maxWorkflowTasks);
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
      const { idempotencyKey, ...body } = input;
      const res = await this.run({
        tasks,
        idem: null,
        idemHash: idempotencyKey ? digest(body) : null,
        workflow: {
          id: workflowId,
          name: input.name ?? '',
          idem: idempotencyKey ?? null,
          bUsd: input.budget?.usd ?? 0,
          bTok: input.budget?.tokens ?? 0,
        },
      });
      const wf = await this.queries.getWorkflow(res.existing ?? workflowId);
      return { ...wf, created: res.existing === undefined };
    });
  }

  /** The parent's stored trace context, when tracing is on and the submission has none. */
  private async parentTraceContext(
    parentId: string | undefined,
  ): Promise<TraceCarrier | undefined> {
    if (!parentId || currentTraceCarrier()) return undefined;
    return this.storedTraceContext(parentId);
  }

  /** The trace context stored on a task at enqueue (undefined when tracing is off or none was). */
  async storedTraceContext(taskId: string): Promise<TraceCarrier | undefined> {
    if (!tracingActive()) return undefined;
    const [tp, ts] = await this.store.fields(taskId, 'tp', 'ts');
    return tp ? { traceparent: tp, ...(ts ? { tracestate: ts } : {}) } : undefined;
  }

  private async run(
    input: Record<string, unknown> & { tasks: NewTask[] },
  ): Promise<ScriptResult & { now: number }> {
    const now = Date.now();
    const res = { ...(await this.store.enqueue(input, now)), now };
    if (res.conflict) {
      throw new AppException(ErrorCode.Conflict, `Task '${res.conflict}' already exists`, {
        taskId: res.conflict,
      });
    }
    const refused = refusal(res);
    if (refused) throw refused;
    await this.effects.apply(res);
    // REDIS_MIN_REPLICAS_ACK: acknowledged only once replicas have the record *and* its BullMQ
    // job (pushed on another connection, hence the barrier write: WAIT then covers everything
    // the master had). On a WAIT timeout the master holds the complete submission; only its
    // survival of a failover is unconfirmed, and the 503 says to retry with the idempotency key
    // (the replay finds the record and WAITs again, see replica-ack.ts).
    if (this.store.replicated) {
      await this.store.confirmReplicated(
        res.existing ? 'The earlier submission' : 'The submission',
        submissionDetails(input, res.existing),
        true,
      );
    }
    return res;
  }

  private toNewTask(
    input: Omit<CreateTaskInput, 'dependsOn' | 'idempotencyKey' | 'parentTaskId'>,
    id: string,
    deps: string[],
    field: string,
    extra: { wf?: string; ref?: string; idem?: string } = {},
  ): NewTask {
    const payload = JSON.stringify(input.payload ?? null);
    const bytes = Buffer.byteLength(payload, 'utf8');
    const max = this.config.queue.maxPayloadBytes;
    if (bytes > max) {
      throw new AppException(
        ErrorCode.PayloadTooLarge,
        `${field}payload is ${bytes} bytes; the limit is ${max}`,
        {
          fields: [{ field: `${field}payload`, message: 'too large' }],
          limitBytes: max,
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
      // Only an override is stored; the defaults come from config when the record is read.
      retry: input.retry && Object.keys(input.retry).length > 0 ? JSON.stringify(input.retry) : '',
      resolvedRetry: retry,
      idem: extra.idem,
      ...(input.budget ? { bUsd: input.budget.usd ?? 0, bTok: input.budget.tokens ?? 0 } : {}),
      waitTo: input.waitTimeoutSeconds ?? this.config.queue.defaultWaitTimeoutSeconds,
      ...traceFields(currentTraceCarrier()),
    };
  }

  /** The record a fresh READY/BLOCKED task has, built from what was stored (no read back). */
  private recordOf(t: NewTask, status: TaskStatus, input: CreateTaskInput, at: number): TaskRecord {
    const now = new Date(at).toISOString();
    const rec: TaskRecord = {
      id: t.id,
      description: t.desc,
      capability: t.cap,
      payload: input.payload ?? null,
      priority: t.prio,
      dependsOn: t.deps,
      onDependencyFailure: t.onDep as TaskRecord['onDependencyFailure'],
      timeoutMs: t.timeout,
      retry: t.resolvedRetry!,
      idempotencyKey: t.idem,
      status,
      attempt: 0,
      createdAt: now,
      updatedAt: now,
      runs: 0,
      rootTaskId: t.id,
      depth: 0,
      waitTimeoutSeconds: t.waitTo ? t.waitTo : undefined,
      budget:
        input.budget && ((input.budget.usd ?? 0) > 0 || (input.budget.tokens ?? 0) > 0)
          ? {
              ...((input.budget.usd ?? 0) > 0 ? { usd: input.budget.usd } : {}),
              ...((input.budget.tokens ?? 0) > 0 ? { tokens: input.budget.tokens } : {}),
            }
          : undefined,
    };
    for (const k of Object.keys(rec) as (keyof TaskRecord)[])
      if (rec[k] === undefined) delete rec[k];
    return rec;
  }
}
