import type { SectionValue } from '../../config/config-field.util';
import type { workerSection } from '../../config/sections/worker.config';
import type { BuiltinHandler } from '../builtin-handlers/builtin-handler.type';
import { createBuiltinHandlers } from '../builtin-handlers/create-builtin-handlers';
import type { ExecutorOptions } from './executor-options';

/**
 * Executor options from `config.worker`. `env` is the environment child processes start from
 * (the worker passes its own), `cwd` the worker's directory (payload paths are confined to it).
 */
export function executorOptionsFromConfig(
  worker: SectionValue<typeof workerSection>,
  runtime: { env: NodeJS.ProcessEnv; cwd: string; extraHandlers?: Record<string, BuiltinHandler> },
): ExecutorOptions {
  return {
    defaultTimeoutMs: worker.defaultTimeoutMs,
    killGraceMs: worker.killGraceMs,
    commandMaxOutputBytes: worker.commandMaxOutputBytes,
    commandMaxStderrBytes: worker.commandMaxStderrBytes,
    httpMaxResponseBytes: worker.httpMaxResponseBytes,
    httpAllowPrivate: worker.httpAllowPrivate,
    httpAllowLinkLocal: worker.httpAllowLinkLocal,
    httpAllowLoopback: worker.httpAllowLoopback,
    claudeBin: worker.claudeBin,
    claudeSystemPrompt: worker.claudeSystemPrompt,
    claudeRunner: worker.claudeRunner,
    claudeStallMs: worker.claudeStallSeconds * 1000,
    claudeRateLimitBackoffMs: worker.claudeRateLimitBackoffSeconds * 1000,
    isolation: worker.isolation,
    branchRetentionMs: worker.branchRetentionHours * 3_600_000,
    ...(worker.workspace !== undefined && { workspace: worker.workspace }),
    builtinHandlers: createBuiltinHandlers({
      root: runtime.cwd,
      reviewMaxFunctionLines: worker.reviewMaxFunctionLines,
      reportsDir: worker.reportsDir,
      ...(worker.workspace !== undefined && { workspace: worker.workspace }),
      extra: runtime.extraHandlers,
    }),
    env: runtime.env,
    cwd: runtime.cwd,
    passEnv: worker.passEnv,
    ...(worker.runAs !== undefined && { runAs: worker.runAs }),
  };
}
