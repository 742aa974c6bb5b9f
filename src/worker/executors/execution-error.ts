import { isRetryableType, TaskErrorType } from '../../resilience/task-error-catalogue';
import type { ExecutionError, ExecutionResult, ExecutionUsage } from './executor.types';

/**
 * The error classes an execution can end with: a subset of the task-error catalogue
 * (src/resilience/task-error-catalogue.ts), which says what each means and whether it is retried.
 *
 * Retryable: `timeout`, `connection` (HTTP connect/DNS failure), `agent_busy` (at
 * `maxConcurrency`), `rate_limited` (429; `claude`: a usage/rate limit or overload, with
 * `details.retryAt`), `upstream_error` (5xx), `drained` (the worker shut down before the attempt
 * finished; handed back), `stalled` (`claude` printed nothing for CLAUDE_STALL_SECONDS; killed,
 * `details.sessionId` lets the next attempt resume).
 * Not retryable: `validation`, `auth` (401/403), `not_found` (ENOENT, 404), `refused_address`,
 * `bad_output` (output is not the JSON it must be), `output_too_large`, `exit_nonzero`,
 * `http_status`, `agent_error`, `max_turns`, `handler_error`, `delegation_failed`, `cancelled`,
 * `merge_conflict` (the builtin `merge` hit conflicts; `details.files`).
 */
const EXECUTION_TYPES = [
  TaskErrorType.Timeout,
  TaskErrorType.Connection,
  TaskErrorType.AgentBusy,
  TaskErrorType.RateLimited,
  TaskErrorType.UpstreamError,
  TaskErrorType.Drained,
  TaskErrorType.Stalled,
  TaskErrorType.Validation,
  TaskErrorType.Auth,
  TaskErrorType.NotFound,
  TaskErrorType.RefusedAddress,
  TaskErrorType.BadOutput,
  TaskErrorType.OutputTooLarge,
  TaskErrorType.ExitNonzero,
  TaskErrorType.HttpStatus,
  TaskErrorType.AgentError,
  TaskErrorType.MaxTurns,
  TaskErrorType.HandlerError,
  TaskErrorType.DelegationFailed,
  TaskErrorType.MergeConflict,
  TaskErrorType.Cancelled,
] as const;

/** An execution error type, as its string value (executors write `failure('timeout', …)`). */
export type ExecutionErrorType = `${(typeof EXECUTION_TYPES)[number]}`;

/** Each execution error type → retryable, read from the catalogue. */
export const EXECUTION_ERROR_TYPES: Readonly<Record<ExecutionErrorType, boolean>> = Object.freeze(
  Object.fromEntries(EXECUTION_TYPES.map((t) => [t, isRetryableType(t)])) as Record<
    ExecutionErrorType,
    boolean
  >,
);

/** Builds a failed result with the type's default retry class. */
export function failure(
  type: ExecutionErrorType,
  message: string,
  details?: unknown,
  usage?: ExecutionUsage,
): Extract<ExecutionResult, { ok: false }> {
  const error: ExecutionError = { type, message, retryable: isRetryableType(type) };
  if (details !== undefined) error.details = details;
  return usage ? { ok: false, error, usage } : { ok: false, error };
}

/**
 * Thrown by a builtin handler (or a delegate) to fail with a specific error class instead of the
 * generic `handler_error`.
 */
export class ExecutionFailure extends Error {
  readonly retryable: boolean;

  constructor(
    readonly type: ExecutionErrorType,
    message: string,
    readonly details?: unknown,
    retryable?: boolean,
  ) {
    super(message);
    this.name = 'ExecutionFailure';
    this.retryable = retryable ?? isRetryableType(type);
  }

  toError(): ExecutionError {
    const error: ExecutionError = {
      type: this.type,
      message: this.message,
      retryable: this.retryable,
    };
    if (this.details !== undefined) error.details = this.details;
    return error;
  }
}

/** Why a signal aborted: the runtime aborts with one of these reasons. */
export type AbortCause = 'cancelled' | 'timeout' | 'drained';

/** An abort reason the runtime and executors understand. */
export class ExecutionAborted extends Error {
  constructor(readonly kind: AbortCause) {
    super(`execution ${kind}`);
    this.name = 'ExecutionAborted';
  }
}

/** Maps an aborted signal to a failed result (`cancelled` unless the reason says timeout/drained). */
export function abortFailure(signal: AbortSignal, usage?: ExecutionUsage) {
  const reason: unknown = signal.reason;
  if (reason instanceof ExecutionAborted) {
    if (reason.kind === 'timeout')
      return failure('timeout', 'execution timed out', undefined, usage);
    if (reason.kind === 'drained')
      return failure(
        'drained',
        'worker shut down before the task finished; handed back',
        undefined,
        usage,
      );
  }
  return failure('cancelled', 'execution cancelled', undefined, usage);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
