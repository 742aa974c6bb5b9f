/** Task lifecycle (shared/DESIGN.md); the task record in Redis is the source of truth. */
export enum TaskStatus {
  Blocked = 'BLOCKED',
  Ready = 'READY',
  Running = 'RUNNING',
  Completed = 'COMPLETED',
  Failed = 'FAILED',
  Cancelled = 'CANCELLED',
}

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  TaskStatus.Completed,
  TaskStatus.Failed,
  TaskStatus.Cancelled,
]);

/** Seed priorities; any integer 1..10 is accepted. Higher runs first. */
export const Priority = { CRITICAL: 10, HIGH: 7, MEDIUM: 5, LOW: 3, BACKGROUND: 1 } as const;

export type CancelReason = 'deadlock' | 'upstream_failed' | 'user' | 'timeout';

/** What a task does when a dependency ends FAILED or CANCELLED. */
export type DependencyFailurePolicy = 'fail' | 'skip' | 'continue';

export interface RetryPolicyConfig {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Jitter factor range, e.g. [0.8, 1.2]. */
  jitter: [number, number];
  /** Extra error types retried for this task (per-task override of the classification). */
  retryOn?: string[];
  /** Error types never retried for this task (wins over everything else). */
  noRetryOn?: string[];
}

export interface TaskError {
  /** Error class, e.g. `timeout`, `connection`, `agent_busy`, `validation`, `auth`, `not_found`. */
  type: string;
  message: string;
  retryable: boolean;
  details?: unknown;
}

export interface TaskRecord {
  id: string;
  workflowId?: string;
  /** The workflow-local reference, for tasks submitted inside a workflow. */
  ref?: string;
  description?: string;
  /** What kind of agent may run it. */
  capability: string;
  payload: unknown;
  priority: number;
  dependsOn: string[];
  onDependencyFailure: DependencyFailurePolicy;
  /** Per-attempt execution timeout. */
  timeoutMs: number;
  retry: RetryPolicyConfig;
  idempotencyKey?: string;
  status: TaskStatus;
  /** Why it is CANCELLED/FAILED/waiting, when it is. */
  reason?: string;
  /** Current attempt, 0 for the first. */
  attempt: number;
  agentId?: string;
  /** Results of dependencies by task id (and by ref inside a workflow), set when it becomes READY. */
  inputs?: Record<string, unknown>;
  result?: unknown;
  error?: TaskError;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  completedAt?: string;
  /** When a retry is scheduled: the time it becomes READY again. */
  retryAt?: string;
  /** Times this task was (re)started for its current attempt (> 1 after a crash re-delivery). */
  runs?: number;
  /** The task that delegated this one (a child in a delegation tree). */
  parentTaskId?: string;
  /** The root of its delegation tree (itself for a task nobody delegated). */
  rootTaskId?: string;
  /** 0 for a root, parent's + 1 for a child. */
  depth?: number;
  budget?: TaskBudget;
  /** What this task's own attempts cost (as the executors reported). */
  cost?: TaskCost;
  /** Its own cost plus every descendant's. */
  treeCost?: TaskCost;
  /** Since when it has waited for an agent with its capability (parked), if it does. */
  waitingSince?: string;
  /** Fail with `no_agent` after waiting this long for an agent with the capability. */
  waitTimeoutSeconds?: number;
  /** The attempts that ended, oldest first (the last 50; only on single-task reads). */
  attempts?: AttemptRecord[];
  /** Set when an attempt starts: what is left of the tightest USD budget above it. */
  budgetLeftUsd?: number;
  /**
   * Set when an attempt starts (never in API answers): the W3C trace context stored at enqueue,
   * the parent of the attempt's dispatch span.
   */
  traceContext?: { traceparent: string; tracestate?: string };
}

/** One attempt that ended: who ran it, when, and how it ended. */
export interface AttemptRecord {
  attempt: number;
  agentId?: string;
  startedAt?: string;
  endedAt: string;
  /** completed | failed | retried | lost (an infrastructure loss) | cancelled */
  outcome: string;
  errorType?: string;
}

/** A spending limit on a task tree or a workflow. */
export interface TaskBudget {
  usd?: number;
  tokens?: number;
}

export interface TaskCost {
  usd: number;
  inputTokens: number;
  outputTokens: number;
  tokens: number;
}

/** One node of `GET /v1/tasks/{id}/tree`. */
export interface TaskTreeNode {
  id: string;
  capability: string;
  status: TaskStatus;
  agentId?: string;
  depth: number;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  cost?: TaskCost;
  treeCost?: TaskCost;
  error?: TaskError;
  children: TaskTreeNode[];
}

/** What one attempt cost, as its executor reported it. */
export interface AttemptCostReport {
  usd?: number;
  inputTokens?: number;
  outputTokens?: number;
}

/** What the dispatcher (orchestrator) tells the queue after handling one READY task. */
export type TaskHandlerOutcome =
  | { kind: 'completed'; result: unknown; agentId?: string; cost?: AttemptCostReport }
  | { kind: 'failed'; error: TaskError; agentId?: string; cost?: AttemptCostReport }
  /** Not an attempt: e.g. no agent can take it now. The task waits and is offered again. */
  | { kind: 'deferred'; reason: string; delayMs: number }
  /** Not an attempt: no live agent has the capability. The task waits, unpolled, until one appears. */
  | { kind: 'parked'; reason: string };

/**
 * Runs one task that the queue has marked RUNNING. `signal` aborts when the task is cancelled
 * or its timeout passes.
 */
/** A slot on an agent the start already took for the attempt (see {@link SlotPicker}). */
export interface HeldSlot {
  agentId: string;
  load: number;
  maxLoad: number;
}

export type TaskHandler = (
  task: TaskRecord,
  signal: AbortSignal,
  held?: HeldSlot,
) => Promise<TaskHandlerOutcome>;

/**
 * Lets the runner's start script take the agent slot too (one round trip instead of two): the
 * dispatcher names, from what it already knows, the agent it would choose for a capability.
 */
export interface SlotPicker {
  /** The agent to try for a task of this capability; undefined: none known now. Synchronous. */
  pick(capability: string): string | undefined;
  /** The start took no slot on the picked agent (it was full or gone, or the job was stale). */
  unpick(agentId: string): void;
}
