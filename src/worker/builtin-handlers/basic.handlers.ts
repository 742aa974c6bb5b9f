import { setTimeout as sleep } from 'node:timers/promises';
import {
  ExecutionFailure,
  type ExecutionErrorType,
  EXECUTION_ERROR_TYPES,
} from '../executors/execution-error';
import type { BuiltinHandler } from './builtin-handler.type';

function field<T>(payload: unknown, name: string, check: (v: unknown) => v is T): T | undefined {
  if (payload && typeof payload === 'object' && name in payload) {
    const v = (payload as Record<string, unknown>)[name];
    if (check(v)) return v;
  }
  return undefined;
}
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isErrorType = (v: unknown): v is ExecutionErrorType =>
  typeof v === 'string' && v in EXECUTION_ERROR_TYPES;

/** `echo`: returns the payload. */
export const echoHandler: BuiltinHandler = async (request) => request.payload ?? null;

/** `noop`: returns `null`. */
export const noopHandler: BuiltinHandler = async () => null;

/**
 * `stamp`: returns when the executor started, as epoch milliseconds with sub-millisecond
 * precision (`performance.timeOrigin + performance.now()`), for dispatch-latency measurements.
 */
export const stampHandler: BuiltinHandler = async () => ({
  startedAt: performance.timeOrigin + performance.now(),
});

/**
 * `fail`: always fails. Payload `{ type?, message?, retryable? }` (default: non-retryable
 * `handler_error`).
 */
export const failHandler: BuiltinHandler = async (request) => {
  const p = request.payload;
  throw new ExecutionFailure(
    field(p, 'type', isErrorType) ?? 'handler_error',
    field(p, 'message', isString) ?? 'failed on purpose',
    undefined,
    field(p, 'retryable', isBoolean),
  );
};

/**
 * `flaky`: fails `payload.failTimes` times (default 2) per task id with a retryable
 * `upstream_error` (or `payload.type`), then returns `{ calls, payload }`.
 */
export function flakyHandler(): BuiltinHandler {
  const calls = new Map<string, number>();
  return async (request) => {
    const n = (calls.get(request.taskId) ?? 0) + 1;
    calls.set(request.taskId, n);
    const failTimes = field(request.payload, 'failTimes', isNumber) ?? 2;
    if (n <= failTimes) {
      throw new ExecutionFailure(
        field(request.payload, 'type', isErrorType) ?? 'upstream_error',
        `flaky failure ${n}/${failTimes}`,
      );
    }
    return { calls: n, payload: request.payload ?? null };
  };
}

/** `sleep`: waits `payload.ms` (default 1000) honouring the abort signal, then returns `{ sleptMs }`. */
export const sleepHandler: BuiltinHandler = async (request, ctx) => {
  const ms = field(request.payload, 'ms', isNumber) ?? 1000;
  await sleep(ms, undefined, { signal: ctx.signal });
  return { sleptMs: ms };
};

/**
 * `delegate`: agent A → agent B. Submits `payload.payload` as a child task for
 * `payload.capability` through the control plane and returns `{ capability, result }`.
 */
export const delegateHandler: BuiltinHandler = async (request, ctx) => {
  const capability = field(request.payload, 'capability', isString);
  if (!capability)
    throw new ExecutionFailure('validation', 'delegate payload needs a `capability` string');
  const payload =
    request.payload && typeof request.payload === 'object' && 'payload' in request.payload
      ? request.payload.payload
      : null;
  const result = await ctx.delegate(capability, payload, { signal: ctx.signal });
  return { capability, result };
};
