import {
  countsAgainstAgent,
  TaskErrorType,
  TIMEOUT_ERROR_CODE,
  TimeoutErrorName,
} from './task-error-catalogue';

/**
 * Decides whether an error from an agent call counts as a breaker failure. Errors that do not
 * count (by default timeouts, as in the seed) neither move the breaker towards open nor reset its
 * count. Provide your own under {@link BREAKER_ERROR_CLASSIFIER} to change the rule.
 */
export type BreakerErrorClassifier = (error: unknown) => boolean;

/** Injection token for a custom {@link BreakerErrorClassifier}. */
export const BREAKER_ERROR_CLASSIFIER = Symbol('BREAKER_ERROR_CLASSIFIER');

/** Names and codes of timeout errors: ours/the bus's `TimeoutError`, opossum's and Node's `ETIMEDOUT`. */
export const TIMEOUT_ERROR_MARKERS: readonly string[] = [
  TimeoutErrorName.Timeout,
  TIMEOUT_ERROR_CODE,
];

/**
 * The default rule: an error counts unless its `name` or `code` is in `excluded` (plus the
 * timeout markers when `countTimeouts` is false). A task error object `{ type }` counts as the
 * task-error catalogue says (`countsAgainstAgent`); of type `timeout` only with `countTimeouts`.
 */
export function defaultErrorClassifier(options: {
  countTimeouts: boolean;
  excluded?: readonly string[];
}): BreakerErrorClassifier {
  const skip = new Set(options.excluded ?? []);
  if (!options.countTimeouts) for (const m of TIMEOUT_ERROR_MARKERS) skip.add(m);
  const skipTimeoutType = !options.countTimeouts;
  return (error: unknown): boolean => {
    if (typeof error !== 'object' || error === null) return true;
    const e = error as { name?: unknown; code?: unknown; type?: unknown; error?: unknown };
    if (typeof e.name === 'string' && skip.has(e.name)) return false;
    if (typeof e.code === 'string' && skip.has(e.code)) return false;
    // A task error, or an error carrying one (the orchestrator's AgentReportedFailure).
    const type = typeof e.type === 'string' ? e.type : taskErrorTypeIn(e.error);
    if (type !== undefined) {
      if (skipTimeoutType && type === (TaskErrorType.Timeout as string)) return false;
      return countsAgainstAgent(type);
    }
    return true;
  };
}

function taskErrorTypeIn(value: unknown): string | undefined {
  const t = (value as { type?: unknown } | null | undefined)?.type;
  return typeof t === 'string' ? t : undefined;
}
