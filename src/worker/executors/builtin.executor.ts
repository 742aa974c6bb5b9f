import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuiltinHandler } from '../builtin-handlers/builtin-handler.type';
import { ExecutionFailure, abortFailure, errorMessage, failure } from './execution-error';
import { effectiveTimeoutMs, scopedSignal } from './execution-signal';
import type { ExecutorOptions } from './executor-options';
import type {
  ExecutionContext,
  ExecutionRequest,
  ExecutionResult,
  Executor,
} from './executor.types';

/** True when `handler` names a module file rather than a registered builtin. */
function isModulePath(handler: string): boolean {
  return handler.startsWith('.') || isAbsolute(handler) || /\.(c|m)?(j|t)s$/.test(handler);
}

/** A real dynamic `import()` (TypeScript's CommonJS output would turn `import()` into `require`). */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- a constant string, needed for a real import()
const dynamicImport = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

/** Loads a module: `require` (CommonJS, and TypeScript under ts-node/jest), else `import()` for ESM. */
async function loadModule(path: string): Promise<unknown> {
  try {
    // The module is operator-provided code named by the agent file.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path) as unknown;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && !existsSync(path)) {
      throw new ExecutionFailure('not_found', `handler module ${path} does not exist`);
    }
    if (code !== 'ERR_REQUIRE_ESM') throw err;
    return dynamicImport(pathToFileURL(path).href);
  }
}

/**
 * Loads a handler module: it exports `handle(request, ctx)` (or a default export that is that
 * function, or an object with `handle`).
 */
async function loadModuleHandler(path: string): Promise<BuiltinHandler> {
  const mod = await loadModule(path);
  const pick = (value: unknown): BuiltinHandler | undefined => {
    if (typeof value === 'function') return value as BuiltinHandler;
    if (
      value &&
      typeof value === 'object' &&
      'handle' in value &&
      typeof value.handle === 'function'
    )
      return value.handle as BuiltinHandler;
    return undefined;
  };
  const found =
    mod && typeof mod === 'object' && 'handle' in mod
      ? pick(mod.handle)
      : (pick(mod) ??
        (mod && typeof mod === 'object' && 'default' in mod ? pick(mod.default) : undefined));
  if (!found)
    throw new ExecutionFailure('validation', `module ${path} does not export handle(request, ctx)`);
  return found;
}

/**
 * `builtin`: runs an in-process handler, either a registered builtin (`handler: code-reviewer`) or
 * a JS module path (`handler: ./agents/my-agent.js`, relative to the agent file's directory).
 * The handler is raced against the execution signal, so a timeout or cancel fails the attempt at
 * once even if the handler ignores the signal (it should not).
 */
export class BuiltinExecutor implements Executor {
  readonly kind = 'builtin' as const;
  private handler?: Promise<BuiltinHandler>;

  constructor(
    private readonly handlerName: string,
    private readonly options: Pick<ExecutorOptions, 'builtinHandlers' | 'defaultTimeoutMs' | 'cwd'>,
    private readonly baseDir?: string,
  ) {}

  private resolveHandler(): Promise<BuiltinHandler> {
    this.handler ??= (async () => {
      const registered = this.options.builtinHandlers.get(this.handlerName);
      if (registered) return registered;
      if (isModulePath(this.handlerName)) {
        const path = isAbsolute(this.handlerName)
          ? this.handlerName
          : resolve(this.baseDir ?? this.options.cwd, this.handlerName);
        return loadModuleHandler(path);
      }
      throw new ExecutionFailure(
        'not_found',
        `no builtin handler named "${this.handlerName}" (known: ${[...this.options.builtinHandlers.keys()].join(', ')})`,
      );
    })();
    // A failed load is not cached: the module may be fixed without restarting the worker.
    this.handler.catch(() => (this.handler = undefined));
    return this.handler;
  }

  async execute(request: ExecutionRequest, ctx: ExecutionContext): Promise<ExecutionResult> {
    const started = Date.now();
    const timeoutMs = effectiveTimeoutMs(
      request.timeoutMs,
      ctx.agent.timeoutSeconds,
      this.options.defaultTimeoutMs,
    );
    const scoped = scopedSignal(ctx.signal, timeoutMs);
    const usage = () => ({ durationMs: Date.now() - started });
    try {
      const handler = await this.resolveHandler();
      if (scoped.signal.aborted) return abortFailure(scoped.signal, usage());
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<'aborted'>((res) => {
        onAbort = () => res('aborted');
        scoped.signal.addEventListener('abort', onAbort, { once: true });
      });
      const running = handler(request, { ...ctx, signal: scoped.signal });
      // Keep a late rejection from surfacing as unhandled once the race is decided.
      running.catch(() => undefined);
      try {
        const outcome = await Promise.race([running.then((output) => ({ output })), aborted]);
        if (outcome === 'aborted') return abortFailure(scoped.signal, usage());
        return { ok: true, output: outcome.output ?? null, usage: usage() };
      } finally {
        if (onAbort) scoped.signal.removeEventListener('abort', onAbort);
      }
    } catch (err) {
      if (scoped.signal.aborted) return abortFailure(scoped.signal, usage());
      if (err instanceof ExecutionFailure)
        return { ok: false, error: err.toError(), usage: usage() };
      ctx.logger.warn('builtin handler threw', {
        agent: ctx.agent.name,
        taskId: request.taskId,
        error: errorMessage(err),
      });
      return failure('handler_error', errorMessage(err), undefined, usage());
    } finally {
      scoped.dispose();
    }
  }
}
