import { bool, defineSection, field, int, list, type SectionValue } from '../config-field.util';

export const resilienceSection = defineSection('resilience', 'Resilience (circuit breakers)', {
  breakerFailureThreshold: field(
    'BREAKER_FAILURE_THRESHOLD',
    int(1, 10_000).default(5),
    "An agent's breaker opens after this many failures in a row (no success in between) within the rolling window",
  ),
  breakerResetTimeoutMs: field(
    'BREAKER_RESET_TIMEOUT_MS',
    int(1).default(60_000),
    'How long an open breaker stays open before it lets one trial call through (half-open)',
  ),
  breakerCountTimeouts: field(
    'BREAKER_COUNT_TIMEOUTS',
    bool().default(false),
    'Count timeouts (TimeoutError, ETIMEDOUT) as breaker failures; the seed excludes them',
  ),
  breakerExcludedErrors: field(
    'BREAKER_EXCLUDED_ERRORS',
    list().default([]),
    'More error names or codes (comma-separated) that never count as breaker failures',
  ),
  breakerRollingWindowMs: field(
    'BREAKER_ROLLING_WINDOW_MS',
    int(0).default(60_000),
    'Failures older than this stop counting towards the threshold (0 = no window: only a success resets the count)',
  ),
  breakerCallTimeoutMs: field(
    'BREAKER_CALL_TIMEOUT_MS',
    int(0).default(0),
    'Timeout the breaker puts on each call (0 = none; the task timeout is the queue’s job)',
  ),
  breakerSyncIntervalMs: field(
    'BREAKER_SYNC_INTERVAL_MS',
    int(0).default(5000),
    'How often breaker state is re-read from Redis (catches missed bus messages; the only sharing when there is no bus). 0 = only at start',
  ),
});

export type ResilienceConfig = SectionValue<typeof resilienceSection>;
