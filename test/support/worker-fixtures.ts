import { readFileSync } from 'node:fs';
import type { AgentDefinition } from '../../src/agents/agent-definition.type';
import type { BuiltinHandler } from '../../src/worker/builtin-handlers/builtin-handler.type';
import { createBuiltinHandlers } from '../../src/worker/builtin-handlers/create-builtin-handlers';
import {
  DEFAULT_EXECUTOR_OPTIONS,
  type ExecutorOptions,
} from '../../src/worker/executors/executor-options';
import type { ExecutionContext, WorkerLogger } from '../../src/worker/executors/executor.types';

/** An agent definition as the loader would produce it, with test defaults. */
export function agentDef(overrides: Partial<AgentDefinition> & { name: string }): AgentDefinition {
  return {
    description: `${overrides.name} (test agent)`,
    disallowedTools: [],
    capabilities: [overrides.name],
    executor: 'builtin',
    maxConcurrency: 1,
    systemPrompt: '',
    file: `${overrides.name}.md`,
    path: `/nonexistent/${overrides.name}.md`,
    extra: {},
    ...overrides,
  };
}

/** Executor options for tests: config defaults, the real builtin handlers, this process's env. */
export function testExecutorOptions(
  overrides: Partial<ExecutorOptions> & {
    root?: string;
    extraHandlers?: Record<string, BuiltinHandler>;
  } = {},
): ExecutorOptions {
  const { root, extraHandlers, ...rest } = overrides;
  const cwd = rest.cwd ?? root ?? process.cwd();
  return {
    ...DEFAULT_EXECUTOR_OPTIONS,
    builtinHandlers: createBuiltinHandlers({
      root: cwd,
      reviewMaxFunctionLines: 60,
      reportsDir: 'reports',
      extra: extraHandlers,
    }),
    env: process.env,
    cwd,
    ...rest,
  };
}

export const quietLogger: WorkerLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A context for calling an executor directly. */
export function execContext(
  agent: AgentDefinition,
  signal: AbortSignal = new AbortController().signal,
): ExecutionContext {
  return {
    signal,
    agent,
    logger: quietLogger,
    delegate: () => Promise.reject(new Error('delegation not configured in this test')),
  };
}

/**
 * Whether `pid` is a live process (a zombie counts as dead: it has exited and only waits to be
 * reaped, which in a container may be nobody's job).
 */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Polls `check` until it is true or `timeoutMs` passes; resolves with the last value. */
export async function waitFor(
  check: () => boolean,
  timeoutMs: number,
  everyMs = 20,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return check();
}
