import type { ClaudeApiRetry, ClaudeResult } from './claude-stream.parser';

/** A run that ended on a usage limit, rate limit or overload: the agent should wait, not retry now. */
export interface ClaudeUsageLimit {
  /** HTTP status of the API error (429 rate/usage limit, 529 overloaded). */
  status?: number;
  /** `api_error_type` (`rate_limit_error`, `overloaded_error`…). */
  errorType?: string;
  /** When to try again (ISO): the reset time the text gives, else now + the backoff. */
  retryAt: string;
  /** Where `retryAt` comes from. */
  source: 'reset_time' | 'backoff';
  /** `system/api_retry` events Claude Code went through before giving up. */
  apiRetries: number;
}

const LIMIT_STATUSES = new Set([429, 529]);
const LIMIT_TYPES = /^(rate_limit_error|overloaded_error)$/;
/** Text of an API error that is a limit, for results that lack the structured fields. */
const LIMIT_TEXT = /\b(429|529|overloaded|rate[ _-]?limit|usage limit)/i;

/**
 * Whether a result is a usage/rate limit (or overload), from the fields Claude Code sets
 * (`is_error`, `terminal_reason: "api_error"`, `api_error_status`, `api_error_type`; the
 * `subtype` is `success` there), the `api_retry` events, and as a last resort the text.
 */
export function recognizeUsageLimit(
  result: ClaudeResult,
  apiRetries: readonly ClaudeApiRetry[],
  opts: { now: number; backoffMs: number },
): ClaudeUsageLimit | undefined {
  if (result.is_error !== true) return undefined;
  const status = result.api_error_status ?? apiRetries.at(-1)?.errorStatus;
  const type = result.api_error_type ?? undefined;
  const structured =
    (status !== undefined && LIMIT_STATUSES.has(status)) || (type && LIMIT_TYPES.test(type));
  const textual =
    (result.terminal_reason === 'api_error' || result.terminal_reason == null) &&
    LIMIT_TEXT.test(result.result ?? '');
  if (!structured && !textual) return undefined;
  const reset = parseResetTime(result.result ?? '', opts.now);
  const limit: ClaudeUsageLimit = {
    retryAt: new Date(reset ?? opts.now + opts.backoffMs).toISOString(),
    source: reset !== undefined ? 'reset_time' : 'backoff',
    apiRetries: apiRetries.length,
  };
  if (status !== undefined) limit.status = status;
  if (type) limit.errorType = type;
  return limit;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A reset time in a result text, as epoch milliseconds, or undefined. Understands: an epoch in
 * seconds after `|` (`Claude AI usage limit reached|1767225600`), an ISO-8601 time, "in N
 * seconds/minutes/hours", "retry after N seconds", and "resets (at) 3pm / 15:30 (UTC)" (a clock
 * time without `UTC` is read in the worker's time zone; one already past means tomorrow).
 * Times in the past are ignored.
 */
export function parseResetTime(text: string, now: number): number | undefined {
  const future = (t: number) => (Number.isFinite(t) && t > now ? t : undefined);
  const epoch = /\|(\d{10})(?:\d{3})?\b/.exec(text);
  if (epoch) return future(Number(epoch[1]) * 1000);
  const iso = /\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))/.exec(
    text,
  );
  if (iso) return future(Date.parse(iso[1]));
  const rel =
    /\b(?:in|after)\s+(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?)\b/i.exec(
      text,
    );
  if (rel) return future(now + Number(rel[1]) * UNIT_MS[rel[2][0].toLowerCase()]);
  const clock = /\bresets?\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(\(?UTC\)?)?/i.exec(
    text,
  );
  if (clock && (clock[2] !== undefined || clock[3] !== undefined)) {
    let hours = Number(clock[1]) % 12;
    if (!clock[3]) hours = Number(clock[1]);
    else if (clock[3].toLowerCase() === 'pm') hours += 12;
    const minutes = Number(clock[2] ?? 0);
    if (hours > 23 || minutes > 59) return undefined;
    const d = new Date(now);
    if (clock[4]) d.setUTCHours(hours, minutes, 0, 0);
    else d.setHours(hours, minutes, 0, 0);
    let t = d.getTime();
    if (t <= now) t += 24 * 3_600_000;
    return t;
  }
  return undefined;
}
