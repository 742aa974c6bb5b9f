import type { WorkerLogger } from '../worker/executors/executor.types';
import { traceIds } from './tracing';

/** What a log line about a task says about it; named as the log fields Loki indexes. */
export interface TaskLogRef {
  taskId?: string;
  agentId?: string;
  workflowId?: string;
  attempt?: number;
}

/**
 * A log line about a task as a pino object: `msg` plus `task_id`, `agent_id`, `workflow_id`,
 * `attempt` where known, and the active span's `trace_id`/`span_id` taken when the line is made
 * (the logger's mixin adds them when the line is written, which is too late for a line Nest
 * buffered while the app was booting: it is written after, outside the span). Passed as
 * the message to Nest's Logger, nestjs-pino writes the fields at the top level of the JSON line,
 * so `{app="switchyard"} | task_id="…"` finds every line of a task in both processes.
 */
export function taskLine(
  msg: string,
  ref: TaskLogRef,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    msg,
    ...traceIds(),
    ...(ref.taskId ? { task_id: ref.taskId } : {}),
    ...(ref.agentId ? { agent_id: ref.agentId } : {}),
    ...(ref.workflowId ? { workflow_id: ref.workflowId } : {}),
    ...(ref.attempt !== undefined ? { attempt: ref.attempt } : {}),
    ...extra,
  };
}

/** Keys executors use in their log context, and the log field each becomes. */
const FIELD_OF: Record<string, string> = {
  taskId: 'task_id',
  agent: 'agent_id',
  agentId: 'agent_id',
  workflowId: 'workflow_id',
};

/** Nest's logger methods as the worker's runtime and executors call them. */
type NestLike = {
  log(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown): void;
  debug(message: unknown): void;
};

/**
 * The worker's runtime and executors log `(message, { taskId, agent, ... })`; Nest's Logger would
 * drop that object (it is not a pino field set). This adapter turns it into fields, with the
 * task's keys renamed to the log fields (`task_id`, `agent_id`, `workflow_id`).
 */
export function fieldLogger(logger: NestLike): WorkerLogger {
  const fields = (msg: string, ctx?: Record<string, unknown>) => {
    const out: Record<string, unknown> = { msg, ...traceIds() };
    for (const [k, v] of Object.entries(ctx ?? {})) out[FIELD_OF[k] ?? k] = v;
    return out;
  };
  return {
    log: (m, c) => logger.log(fields(m, c)),
    warn: (m, c) => logger.warn(fields(m, c)),
    error: (m, c) => logger.error(fields(m, c)),
    debug: (m, c) => logger.debug(fields(m, c)),
  };
}
