import type { BuiltinHandlerRegistry } from '../builtin-handlers/builtin-handler.type';
import type { RunAs } from './process-runner';

/** Settings every executor kind reads (normally from `config.worker`). */
export interface ExecutorOptions {
  defaultTimeoutMs: number;
  killGraceMs: number;
  commandMaxOutputBytes: number;
  commandMaxStderrBytes: number;
  httpMaxResponseBytes: number;
  httpAllowPrivate: boolean;
  httpAllowLinkLocal: boolean;
  httpAllowLoopback: boolean;
  claudeBin: string;
  claudeSystemPrompt: 'replace' | 'append';
  /** `cli` spawns `claude`; `sdk` runs through @anthropic-ai/claude-agent-sdk. */
  claudeRunner: 'cli' | 'sdk';
  /** A claude run silent this long is killed as `stalled`. */
  claudeStallMs: number;
  /** Wait after a usage/rate limit when Claude gives no reset time. */
  claudeRateLimitBackoffMs: number;
  /** Default isolation of claude agents that can write (an agent's `isolation` key wins). */
  isolation: 'none' | 'worktree';
  /** Working directory of claude agents; the git repository worktrees are made from. Default `cwd`. */
  workspace?: string;
  /** `switchyard/*` branches older than this are pruned (worktree isolation). */
  branchRetentionMs?: number;
  /** Builtin handlers by name (see `createBuiltinHandlers`). */
  builtinHandlers: BuiltinHandlerRegistry;
  /** Environment child processes inherit from (filtered for `command`); the worker passes its own. */
  env: NodeJS.ProcessEnv;
  /** Working directory of command/claude processes and base of relative builtin module paths. */
  cwd: string;
  /** More variable names agent processes inherit besides the allow-list (WORKER_PASS_ENV). */
  passEnv: readonly string[];
  /** OS user agent processes run as (WORKER_RUN_AS), when set. */
  runAs?: RunAs;
}

/** Defaults matching `config.worker`'s defaults, for tests and embedded use. */
export const DEFAULT_EXECUTOR_OPTIONS: Omit<
  ExecutorOptions,
  'builtinHandlers' | 'env' | 'cwd' | 'runAs'
> = {
  defaultTimeoutMs: 300_000,
  killGraceMs: 500,
  commandMaxOutputBytes: 4_194_304,
  commandMaxStderrBytes: 1_048_576,
  httpMaxResponseBytes: 4_194_304,
  httpAllowPrivate: true,
  httpAllowLinkLocal: false,
  httpAllowLoopback: true,
  claudeBin: 'claude',
  claudeSystemPrompt: 'replace',
  claudeRunner: 'cli',
  claudeStallMs: 300_000,
  claudeRateLimitBackoffMs: 300_000,
  isolation: 'none',
  branchRetentionMs: 604_800_000,
  passEnv: [],
};
