import type { ExecutionContext, ExecutionRequest } from '../executors/executor.types';

/**
 * A builtin agent: resolves with the task's output, throws to fail (an `ExecutionFailure` picks the
 * error class; anything else is `handler_error`). Must honour `ctx.signal`.
 */
export type BuiltinHandler = (request: ExecutionRequest, ctx: ExecutionContext) => Promise<unknown>;

export type BuiltinHandlerRegistry = ReadonlyMap<string, BuiltinHandler>;
