import { ExecutionAborted } from './execution-error';

/** A signal that aborts when `parent` aborts or after `timeoutMs` (reason `ExecutionAborted('timeout')`). */
export interface ScopedSignal {
  signal: AbortSignal;
  /** Stops the timer and detaches from the parent. Call when the execution ends. */
  dispose(): void;
}

export function scopedSignal(parent: AbortSignal, timeoutMs: number): ScopedSignal {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs > 0 && Number.isFinite(timeoutMs)
      ? setTimeout(() => controller.abort(new ExecutionAborted('timeout')), timeoutMs)
      : undefined;
  timer?.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      if (timer) clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** Resolves the attempt's timeout: the request's, else the agent's `timeoutSeconds`, else the default. */
export function effectiveTimeoutMs(
  requestTimeoutMs: number | undefined,
  agentTimeoutSeconds: number | undefined,
  defaultTimeoutMs: number,
): number {
  if (requestTimeoutMs !== undefined && requestTimeoutMs > 0) return requestTimeoutMs;
  if (agentTimeoutSeconds !== undefined && agentTimeoutSeconds > 0)
    return agentTimeoutSeconds * 1000;
  return defaultTimeoutMs;
}
