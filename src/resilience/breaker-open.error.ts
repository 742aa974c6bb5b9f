/**
 * Thrown by {@link BreakerRegistry.fire} when the agent's breaker refuses the call (open, or
 * half-open with its one trial already running). Nothing was sent to the agent, so this is not
 * the task's failure: the orchestrator picks a fallback agent or defers the task, and the retry
 * policy does not count an attempt for it.
 */
export class BreakerOpenError extends Error {
  /** Same code opossum uses for its own open-breaker rejection. */
  readonly code = 'EOPENBREAKER';
  /** Never a task failure, never retried against the same agent before {@link retryAfterMs}. */
  readonly countsAsTaskFailure = false;

  constructor(
    readonly agentId: string,
    readonly state: 'open' | 'half_open',
    /** When the breaker lets a trial through again (ISO-8601); absent while a half-open trial runs. */
    readonly nextAttemptAt: string | undefined,
  ) {
    super(
      state === 'open'
        ? `Circuit breaker for agent '${agentId}' is open until ${nextAttemptAt ?? 'a trial succeeds'}`
        : `Circuit breaker for agent '${agentId}' is half-open and its trial call is running`,
    );
    this.name = 'BreakerOpenError';
  }

  /** Milliseconds until a trial may go through (0 when unknown or already due). */
  get retryAfterMs(): number {
    if (!this.nextAttemptAt) return 0;
    return Math.max(0, Date.parse(this.nextAttemptAt) - Date.now());
  }

  static is(error: unknown): error is BreakerOpenError {
    return error instanceof BreakerOpenError;
  }
}
