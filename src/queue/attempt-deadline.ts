/**
 * The one deadline of one attempt: a signal that aborts with reason `timeout` when the task's
 * timeout passes, or `cancelled` when the task is cancelled. Everything that guards the attempt
 * on the control plane (the runner, the bus wait, the breaker call) uses this signal instead of
 * a timer of its own; the reconciler's Redis-side deadline is only the safety net for a runner
 * that died.
 */
export class AttemptDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly expiresAt: number;

  constructor(timeoutMs: number) {
    this.expiresAt = Date.now() + timeoutMs;
    this.timer = setTimeout(() => this.controller.abort('timeout'), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Milliseconds left (0 once expired). */
  remainingMs(): number {
    return Math.max(0, this.expiresAt - Date.now());
  }

  cancel(reason = 'cancelled'): void {
    this.controller.abort(reason);
  }

  /** Resolves with why the attempt was aborted. */
  aborted(): Promise<'cancelled' | 'timeout'> {
    return new Promise((resolve) => {
      const settle = () => resolve(this.signal.reason === 'timeout' ? 'timeout' : 'cancelled');
      if (this.signal.aborted) settle();
      else this.signal.addEventListener('abort', settle, { once: true });
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
