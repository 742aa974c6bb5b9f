import type { AgentDefinition } from '../../agents/agent-definition.type';
import type { ExecutionErrorType } from './execution-error';

/** One task attempt handed to an executor. Transport-agnostic: built from a bus message or a TaskRecord. */
export interface ExecutionRequest {
  taskId: string;
  /** Attempt number, 0 for the first. `taskId:attempt` identifies one execution. */
  attempt: number;
  /**
   * Id of the message that carried the request (the bus message id; a broker redelivery keeps it,
   * a new dispatch of the same attempt — e.g. a manual retry of a FAILED task — gets a new one).
   * Only a request with the same delivery id as a finished one is answered from the record.
   */
  deliveryId?: string;
  capability: string;
  payload: unknown;
  /** Results of the tasks this one depends on, keyed by task id (and by ref inside a workflow). */
  inputs?: Record<string, unknown>;
  /** Per-attempt execution timeout; the executor falls back to the agent's `timeoutSeconds`, then to its default. */
  timeoutMs?: number;
  workflowId?: string;
  /** Workflow-local reference of the task, when it was submitted inside a workflow. */
  ref?: string;
  /**
   * The task-scoped credential the control plane issued for this attempt (a bearer secret:
   * never log it). Executors see it as `ctx.switchyard.token`.
   */
  credential?: string;
  /** Root of the task's delegation tree (the task itself for a root). */
  rootTaskId?: string;
  /**
   * Session to resume (`claude --resume`): set on the next attempt of a task whose previous
   * attempt stalled or timed out with a known session (its failure's `details.sessionId`).
   */
  resumeSessionId?: string;
  /** What is left of the tightest USD budget on the task's tree (the `claude` executor's `--max-budget-usd`). */
  budgetLeftUsd?: number;
}

/** One step of a running task, published as task progress (`claude`: assistant text, tool calls…). */
export interface ProgressStep {
  /** `init`, `text`, `tool_call`, `tool_result`, `api_retry`, `api_error`, `result`, `note`… */
  kind: string;
  /** One human-readable line (bounded by the executor). */
  summary: string;
  /** Assistant turn it belongs to, when the executor counts turns. */
  turn?: number;
  data?: Record<string, string | number | boolean | null>;
}

/** Tokens, cost and turns an execution used (recorded for `claude`; `durationMs` for all). */
export interface ExecutionUsage {
  costUsd?: number;
  inputTokens?: number;
  outputTokens?: number;
  turns?: number;
  durationMs: number;
}

/** A failed execution, with the queue's retry class (see {@link ExecutionErrorType}). */
export interface ExecutionError {
  type: ExecutionErrorType;
  message: string;
  retryable: boolean;
  details?: unknown;
}

export type ExecutionResult =
  | { ok: true; output: unknown; usage?: ExecutionUsage }
  | { ok: false; error: ExecutionError; usage?: ExecutionUsage };

/** The subset of a logger executors use (Nest's `Logger` satisfies it). */
export interface WorkerLogger {
  log(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
  debug?(message: string, context?: Record<string, unknown>): void;
}

export interface DelegateOptions {
  /** Child task priority (1..10). */
  priority?: number;
  /** How long to wait for the child's result. */
  timeoutMs?: number;
  /** Cancels the wait (and, where the delegate supports it, the child task). Defaults to the parent's signal. */
  signal?: AbortSignal;
}

/**
 * Submits a child task for `capability` through the control plane and resolves with its result
 * (rejects when it fails). Provided by whoever wires the worker to the control plane.
 */
export type DelegateFn = (
  capability: string,
  payload: unknown,
  options?: DelegateOptions,
) => Promise<unknown>;

/** What an executor gets besides the request. */
export interface ExecutionContext {
  /** Aborts on cancellation, timeout or drain. Executors stop promptly and leave nothing running. */
  signal: AbortSignal;
  agent: AgentDefinition;
  logger: WorkerLogger;
  delegate: DelegateFn;
  /** Receives live steps of the execution (optional: executors call it when set, never await it). */
  progress?(step: ProgressStep): void;
  /**
   * How the agent reaches Switchyard for this task: the control-plane URL (MCP at `<url>/mcp`,
   * REST at `<url>/v1`) and the task credential (the `claude` executor passes it as
   * `--mcp-config`). Absent when the task came without one.
   */
  switchyard?: { url: string; token: string };
}

/** Runs task attempts for one agent. Never rejects: every failure is an `{ ok: false }` result. */
export interface Executor {
  readonly kind: AgentDefinition['executor'];
  execute(request: ExecutionRequest, ctx: ExecutionContext): Promise<ExecutionResult>;
}
