import type { ExecutionError, ExecutionResult, ExecutionUsage } from './executor.types';

/**
 * Error classes an execution can end with, and whether the queue should retry them.
 *
 * Retryable (the task goes back to READY after a backoff):
 * - `timeout`        the attempt ran past its timeout and was killed
 * - `connection`     the agent could not be reached (HTTP connect/DNS failure)
 * - `agent_busy`     the agent is at its `maxConcurrency`
 * - `rate_limited`   the agent answered 429
 * - `upstream_error` the agent answered 5xx
 * - `drained`        the worker shut down before the attempt finished; it was handed back
 *
 * Not retryable (the attempt's inputs or the agent are wrong; running it again gives the same answer):
 * - `validation`     the request or the agent definition is invalid (bad payload, missing `command`/`url`)
 * - `auth`           the agent answered 401/403
 * - `not_found`      the handler, executable or URL does not exist (ENOENT, 404)
 * - `refused_address` the HTTP agent's address is forbidden by the outbound address rules
 * - `bad_output`     the agent's output is not the JSON it must be
 * - `output_too_large` stdout/stderr/response body exceeded its cap
 * - `exit_nonzero`   the command exited non-zero or was killed by a signal (stderr tail in `details`)
 * - `http_status`    any other non-2xx HTTP answer
 * - `agent_error`    the agent reported failure (`claude`: `is_error: true`, `error_during_execution`)
 * - `max_turns`      `claude` stopped at `--max-turns`
 * - `handler_error`  a builtin handler threw
 * - `delegation_failed` a delegated child task failed (its error is in `details`)
 * - `cancelled`      the task was cancelled
 */
export const EXECUTION_ERROR_TYPES = {
  timeout: true,
  connection: true,
  agent_busy: true,
  rate_limited: true,
  upstream_error: true,
  drained: true,
  validation: false,
  auth: false,
  not_found: false,
  refused_address: false,
  bad_output: false,
  output_too_large: false,
  exit_nonzero: false,
  http_status: false,
  agent_error: false,
  max_turns: false,
  handler_error: false,
  delegation_failed: false,
  cancelled: false,
} as const satisfies Record<string, boolean>;

export type ExecutionErrorType = keyof typeof EXECUTION_ERROR_TYPES;

export function isRetryable(type: ExecutionErrorType): boolean {
  return EXECUTION_ERROR_TYPES[type];
}

/** Builds a failed result with the type's default retry class. */
export function failure(
  type: ExecutionErrorType,
  message: string,
  details?: unknown,
  usage?: ExecutionUsage,
): Extract<ExecutionResult, { ok: false }> {
  const error: ExecutionError = { type, message, retryable: isRetryable(type) };
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
    this.retryable = retryable ?? isRetryable(type);
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
