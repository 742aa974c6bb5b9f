import { type Context, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Store, storage } from 'nestjs-pino/storage';

const OTEL_CONTEXT = Symbol('switchyard.otelContext');
type TracedStore = Store & { [OTEL_CONTEXT]?: Context };

/**
 * OpenTelemetry's active context, kept in nestjs-pino's AsyncLocalStorage (next to the request
 * logger) instead of a second AsyncLocalStorage of its own.
 *
 * On Node 20 every AsyncLocalStorage in use copies its store onto every promise and async
 * resource the process creates, a cost paid per storage on the hot path of every task whether or
 * not a span is sampled. nestjs-pino's storage is in use in every process anyway (it holds the
 * request logger), so the trace context rides along in it: `with()` runs `fn` in a copy of the
 * current store (same request logger) that carries the context. A request's store, made by
 * nestjs-pino's middleware when the request arrives, starts with no context; the request's span
 * is started later, by HttpTraceInterceptor.
 */
export class PinoStorageContextManager extends AsyncLocalStorageContextManager {
  override active(): Context {
    const store: TracedStore | undefined = storage.getStore();
    return store?.[OTEL_CONTEXT] ?? ROOT_CONTEXT;
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const cb = thisArg == null ? fn : (fn.bind(thisArg) as F);
    return storage.run(withContext(context), cb, ...args);
  }

  override attach(context: Context): { dispose(): void } {
    const previous = storage.getStore();
    storage.enterWith(withContext(context));
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        // enterWith(undefined) is what an empty storage holds.
        storage.enterWith(previous as Store);
      },
    };
  }

  /** The storage is nestjs-pino's: it stays enabled (its request loggers need it). */
  override disable(): this {
    return this;
  }
}

/** A copy of the current store (same loggers; PinoLogger falls back to its root logger when none) carrying `context`. */
function withContext(context: Context): TracedStore {
  const current = storage.getStore();
  const next = new Store(
    current?.logger as Store['logger'],
    current?.responseLogger,
  ) as TracedStore;
  next[OTEL_CONTEXT] = context;
  return next;
}
