import { resolveRetryPolicy } from '../resilience/retry-policy';
import type {
  RetryPolicyConfig,
  TaskBudget,
  TaskCost,
  TaskError,
  TaskRecord,
  TaskStatus,
} from './task.types';
import type { DependencyFailurePolicy } from './task.types';

const iso = (ms: string | undefined): string | undefined =>
  ms === undefined || ms === '' ? undefined : new Date(Number(ms)).toISOString();

const opt = (v: string | undefined): string | undefined =>
  v === undefined || v === '' ? undefined : v;

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (text === undefined || text === '') return fallback;
  return JSON.parse(text) as T;
}

const NO_RETRY: RetryPolicyConfig = {
  maxRetries: 0,
  baseDelayMs: 0,
  maxDelayMs: 0,
  jitter: [1, 1],
};

/** HGETALL from a script comes back as a flat [field, value, ...] list. */
export function flatToObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1]!;
  return out;
}

/** Dependency facts used to build a task's inputs: id, ref, workflow id, status, result JSON. */
export type DependencyInfo = [string, string, string, string, string];

/** Results of COMPLETED dependencies, by task id and (inside the same workflow) by ref. */
export function buildInputs(
  workflowId: string | undefined,
  deps: DependencyInfo[],
): Record<string, unknown> | undefined {
  if (deps.length === 0) return undefined;
  const inputs: Record<string, unknown> = {};
  for (const [id, ref, wf, status, result] of deps) {
    if (status !== 'COMPLETED') continue;
    const value = parseJson<unknown>(result, null);
    inputs[id] = value;
    if (ref && workflowId && wf === workflowId) inputs[ref] = value;
  }
  return inputs;
}

/** Cost fields of a task or workflow hash, when any was recorded. */
export function costOf(usd?: string, tin?: string, tout?: string): TaskCost | undefined {
  if (usd === undefined && tin === undefined && tout === undefined) return undefined;
  const inputTokens = Number(tin ?? 0);
  const outputTokens = Number(tout ?? 0);
  return { usd: Number(usd ?? 0), inputTokens, outputTokens, tokens: inputTokens + outputTokens };
}

/** Budget fields of a task or workflow hash (0 = none). */
export function budgetOf(h: Record<string, string>): TaskBudget | undefined {
  const usd = Number(h.bUsd ?? 0);
  const tokens = Number(h.bTok ?? 0);
  if (!(usd > 0) && !(tokens > 0)) return undefined;
  return { ...(usd > 0 ? { usd } : {}), ...(tokens > 0 ? { tokens } : {}) };
}

/** The task hash (see commands/task-lib.lua) as a {@link TaskRecord}. */
export function decodeTask(
  h: Record<string, string>,
  inputs?: Record<string, unknown>,
  retryDefaults: RetryPolicyConfig = NO_RETRY,
): TaskRecord {
  const rec: TaskRecord = {
    id: h.id,
    workflowId: opt(h.wf),
    ref: opt(h.ref),
    description: opt(h.desc),
    capability: h.cap,
    payload: parseJson<unknown>(h.payload, null),
    priority: Number(h.prio),
    dependsOn: parseJson<string[]>(h.deps, []),
    onDependencyFailure: (h.onDep ?? 'fail') as DependencyFailurePolicy,
    timeoutMs: Number(h.timeout),
    // Only a per-task override is stored (the defaults are config), which keeps the hash small.
    retry: resolveRetryPolicy(retryDefaults, parseJson<Partial<RetryPolicyConfig>>(h.retry, {})),
    idempotencyKey: opt(h.idem),
    status: (h.status === 'NEW' ? 'BLOCKED' : h.status) as TaskStatus,
    reason: opt(h.reason),
    attempt: Number(h.attempt ?? 0),
    agentId: opt(h.agent),
    inputs,
    result: h.result === undefined ? undefined : parseJson<unknown>(h.result, null),
    error:
      h.error === undefined || h.error === ''
        ? undefined
        : parseJson<TaskError>(h.error, undefined as never),
    createdAt: iso(h.created)!,
    updatedAt: iso(h.updated)!,
    startedAt: iso(h.started),
    completedAt: iso(h.finished),
    retryAt: iso(h.retryAt),
    runs: Number(h.runs ?? 0),
    waitingSince: iso(h.waitSince),
    waitTimeoutSeconds: h.waitTo ? Number(h.waitTo) : undefined,
    parentTaskId: opt(h.parent),
    rootTaskId: opt(h.root) ?? h.id,
    depth: Number(h.depth ?? 0),
    budget: budgetOf(h),
    cost: costOf(h.cUsd, h.cIn, h.cOut),
    treeCost:
      h.parent !== undefined || h.tUsd !== undefined ? costOf(h.tUsd, h.tIn, h.tOut) : undefined,
  };
  if (!Array.isArray(rec.dependsOn)) rec.dependsOn = [];
  for (const k of Object.keys(rec) as (keyof TaskRecord)[]) if (rec[k] === undefined) delete rec[k];
  return rec;
}
