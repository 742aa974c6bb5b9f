/**
 * The task-error catalogue: every error type a task attempt can end with, anywhere in Switchyard
 * (executors, worker, orchestrator, queue), and what it means. It is the single source for retry
 * decisions (`retry-policy.ts`), for breaker counting (`error-classifier.ts`) and for the
 * executors' default `retryable` flag (`worker/executors/execution-error.ts`).
 *
 * Four facts per type:
 * - `retryable`: another attempt may succeed (transient, or may land on another agent).
 * - `countsAgainstAgent`: the agent's circuit breaker counts it as a failure (timeouts are also
 *   governed by BREAKER_COUNT_TIMEOUTS).
 * - `countsAgainstRetries`: the attempt uses up one of the task's `maxRetries`. Infrastructure
 *   losses (the worker died or drained, the message came back from the bus, nobody to run it,
 *   the worker re-delivered a stalled job) do not: the task did not get a fair try.
 * - `agentFault`: the agent (not the task's input, not our infrastructure) is to blame; the
 *   orchestrator reports the agent, and may route the retry elsewhere.
 *
 * `bad_output` (the agent answered, but not with the result its contract promises — non-JSON
 * stdout, a malformed bus reply) is NOT retryable: the same agent given the same input answers
 * the same way, so a retry is wasted work (the worker always said so; the orchestrator used to
 * create it retryable). It is the agent's fault and counts against its breaker, so an agent that
 * keeps answering garbage is taken out of rotation instead of being retried into.
 *
 * A type not in the catalogue (an external agent's own) falls back to the `retryable` flag it was
 * reported with and is treated as the agent's fault.
 */
export enum TaskErrorType {
  // Transient, the agent's side
  Timeout = 'timeout',
  Connection = 'connection',
  AgentBusy = 'agent_busy',
  AgentUnavailable = 'agent_unavailable',
  RateLimited = 'rate_limited',
  UpstreamError = 'upstream_error',
  // Infrastructure losses: retried, not counted against the task's retries
  AgentLost = 'agent_lost',
  Drained = 'drained',
  Undelivered = 'undelivered',
  Stalled = 'stalled',
  NoAgent = 'no_agent',
  // Our own failures
  DispatchError = 'dispatch_error',
  Internal = 'internal',
  // The agent failed at the task
  BadOutput = 'bad_output',
  OutputTooLarge = 'output_too_large',
  ExitNonzero = 'exit_nonzero',
  HttpStatus = 'http_status',
  AgentError = 'agent_error',
  MaxTurns = 'max_turns',
  HandlerError = 'handler_error',
  // The task itself is wrong, or was stopped
  Validation = 'validation',
  BadInput = 'bad_input',
  Auth = 'auth',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  RefusedAddress = 'refused_address',
  BudgetExceeded = 'budget_exceeded',
  DelegationFailed = 'delegation_failed',
  /** The builtin `merge` handler found conflicting changes (the branches, not the agent, are at fault). */
  MergeConflict = 'merge_conflict',
  UpstreamFailed = 'upstream_failed',
  Cancelled = 'cancelled',
}

export interface TaskErrorTraits {
  retryable: boolean;
  countsAgainstAgent: boolean;
  countsAgainstRetries: boolean;
  agentFault: boolean;
}

const traits = (
  retryable: boolean,
  countsAgainstAgent: boolean,
  countsAgainstRetries: boolean,
  agentFault: boolean,
): Readonly<TaskErrorTraits> =>
  Object.freeze({ retryable, countsAgainstAgent, countsAgainstRetries, agentFault });

const TRANSIENT_AGENT = traits(true, true, true, true);
const INFRA_LOSS = traits(true, false, false, false);
const OURS = traits(true, false, true, false);
const AGENT_FAILED = traits(false, true, true, true);
const TASK_FAULT = traits(false, false, true, false);

/** The catalogue (exhaustive: the compiler refuses a type without an entry). */
export const TASK_ERROR_CATALOGUE: Readonly<Record<TaskErrorType, Readonly<TaskErrorTraits>>> =
  Object.freeze({
    [TaskErrorType.Timeout]: TRANSIENT_AGENT,
    [TaskErrorType.Connection]: TRANSIENT_AGENT,
    [TaskErrorType.AgentBusy]: TRANSIENT_AGENT,
    [TaskErrorType.AgentUnavailable]: TRANSIENT_AGENT,
    [TaskErrorType.RateLimited]: TRANSIENT_AGENT,
    [TaskErrorType.UpstreamError]: TRANSIENT_AGENT,
    // The worker holding the task vanished: the agent's breaker hears of it, the task's budget does not.
    [TaskErrorType.AgentLost]: traits(true, true, false, true),
    [TaskErrorType.Drained]: INFRA_LOSS,
    [TaskErrorType.Undelivered]: INFRA_LOSS,
    [TaskErrorType.Stalled]: INFRA_LOSS,
    [TaskErrorType.NoAgent]: INFRA_LOSS,
    [TaskErrorType.DispatchError]: OURS,
    [TaskErrorType.Internal]: OURS,
    [TaskErrorType.BadOutput]: AGENT_FAILED,
    [TaskErrorType.OutputTooLarge]: AGENT_FAILED,
    [TaskErrorType.ExitNonzero]: AGENT_FAILED,
    [TaskErrorType.HttpStatus]: AGENT_FAILED,
    [TaskErrorType.AgentError]: AGENT_FAILED,
    [TaskErrorType.MaxTurns]: AGENT_FAILED,
    [TaskErrorType.HandlerError]: AGENT_FAILED,
    [TaskErrorType.Validation]: TASK_FAULT,
    [TaskErrorType.BadInput]: TASK_FAULT,
    [TaskErrorType.Auth]: TASK_FAULT,
    [TaskErrorType.Forbidden]: TASK_FAULT,
    [TaskErrorType.NotFound]: TASK_FAULT,
    [TaskErrorType.RefusedAddress]: TASK_FAULT,
    [TaskErrorType.BudgetExceeded]: TASK_FAULT,
    [TaskErrorType.DelegationFailed]: TASK_FAULT,
    [TaskErrorType.MergeConflict]: TASK_FAULT,
    [TaskErrorType.UpstreamFailed]: TASK_FAULT,
    [TaskErrorType.Cancelled]: TASK_FAULT,
  });

const KNOWN = new Set<string>(Object.values(TaskErrorType));

/** Is `type` one of the catalogue's types? */
export function isKnownTaskErrorType(type: string): type is TaskErrorType {
  return KNOWN.has(type);
}

/** The catalogue's traits of `type`, or undefined for a type it does not know. */
export function taskErrorTraits(type: string): Readonly<TaskErrorTraits> | undefined {
  return isKnownTaskErrorType(type) ? TASK_ERROR_CATALOGUE[type] : undefined;
}

/**
 * Is an error of this type worth another attempt? An unknown type keeps the flag it was reported
 * with (`reported`, false when absent).
 */
export function isRetryableType(type: string, reported = false): boolean {
  return taskErrorTraits(type)?.retryable ?? reported;
}

/** Does the agent's breaker count this failure? Unknown types do (the agent reported them). */
export function countsAgainstAgent(type: string): boolean {
  return taskErrorTraits(type)?.countsAgainstAgent ?? true;
}

/** Does this failure use up one of the task's retries? Unknown types do. */
export function countsAgainstRetries(type: string): boolean {
  return taskErrorTraits(type)?.countsAgainstRetries ?? true;
}

/** Is the agent to blame (rather than the task or the infrastructure)? Unknown types: yes. */
export function isAgentFault(type: string): boolean {
  return taskErrorTraits(type)?.agentFault ?? true;
}

/** Node error codes that mean the peer could not be reached (→ {@link TaskErrorType.Connection}). */
export enum ConnectionErrorCode {
  Refused = 'ECONNREFUSED',
  Reset = 'ECONNRESET',
  BrokenPipe = 'EPIPE',
  HostUnreachable = 'EHOSTUNREACH',
  NotFound = 'ENOTFOUND',
}

/** Node's code for a timed-out socket operation (→ {@link TaskErrorType.Timeout}). */
export const TIMEOUT_ERROR_CODE = 'ETIMEDOUT';

/** Error names (`Error.name`) that mean a timeout or abort (→ {@link TaskErrorType.Timeout}). */
export enum TimeoutErrorName {
  /** BusTimeoutError, opossum's timeout, DOMException TimeoutError. */
  Timeout = 'TimeoutError',
  Abort = 'AbortError',
}

const CONNECTION_CODES = new Set<string>(Object.values(ConnectionErrorCode));
const TIMEOUT_NAMES = new Set<string>(Object.values(TimeoutErrorName));

/** Classifies a thrown value by its `name`/`code` (never by its message). */
export function errorTypeOf(err: unknown): TaskErrorType {
  const e = err as { name?: unknown; code?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : '';
  const code = typeof e?.code === 'string' ? e.code : '';
  if (TIMEOUT_NAMES.has(name) || code === TIMEOUT_ERROR_CODE) return TaskErrorType.Timeout;
  if (CONNECTION_CODES.has(code)) return TaskErrorType.Connection;
  return TaskErrorType.Internal;
}
