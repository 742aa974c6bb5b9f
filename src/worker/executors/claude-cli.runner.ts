import type { AgentDefinition } from '../../agents/agent-definition.type';
import type { ClaudeStreamParser } from './claude-stream.parser';
import type { ExecutorOptions } from './executor-options';
import { runProcess } from './process-runner';

/** One Claude run, whatever runs it (the CLI, or the Agent SDK). */
export interface ClaudeRunInput {
  bin: string;
  /** The CLI argv (after the executable). */
  args: string[];
  prompt: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborting stops the run and kills everything it started. */
  signal: AbortSignal;
  killGraceMs: number;
  maxStderrBytes: number;
  /** The same settings as `args`, for runners that do not take an argv (the SDK). */
  agent: AgentDefinition;
  resumeSessionId?: string;
  switchyard?: { url: string; token: string };
  /** What is left of the task's budget in USD (the SDK's `maxBudgetUsd`). */
  maxBudgetUsd?: number;
  systemPromptMode: ExecutorOptions['claudeSystemPrompt'];
  /** Called on any output (resets the stall watchdog). */
  onActivity(): void;
  /** Receives the stream. */
  parser: ClaudeStreamParser;
}

export interface ClaudeRunOutcome {
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  stderr: string;
  overflow?: 'stdout' | 'stderr';
  spawnError?: NodeJS.ErrnoException;
  aborted: boolean;
  durationMs: number;
}

export type ClaudeRunner = (input: ClaudeRunInput) => Promise<ClaudeRunOutcome>;

/**
 * Runs `claude` as a child process in its own process group, feeding stdout to the stream
 * parser as it arrives (nothing of it is buffered beyond one line). The prompt goes on stdin,
 * which is then closed (an open, silent stdin makes Claude Code wait ~3 s).
 */
export const runClaudeCli: ClaudeRunner = async (input) => {
  const run = await runProcess({
    argv: [input.bin, ...input.args],
    stdin: input.prompt,
    env: input.env,
    cwd: input.cwd,
    signal: input.signal,
    killGraceMs: input.killGraceMs,
    maxStdoutBytes: Number.MAX_SAFE_INTEGER,
    maxStderrBytes: input.maxStderrBytes,
    onStdout: (chunk) => {
      input.onActivity();
      input.parser.push(chunk);
    },
  });
  input.parser.end();
  return {
    exitCode: run.exitCode,
    exitSignal: run.exitSignal,
    stderr: run.stderr,
    ...(run.overflow && { overflow: run.overflow }),
    ...(run.spawnError && { spawnError: run.spawnError }),
    aborted: run.aborted,
    durationMs: run.durationMs,
  };
};
