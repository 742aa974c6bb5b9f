import { dirname } from 'node:path';
import type { AgentDefinition } from '../../agents/agent-definition.type';
import { BuiltinExecutor } from './builtin.executor';
import { ClaudeExecutor } from './claude.executor';
import { CommandExecutor } from './command.executor';
import type { ExecutorOptions } from './executor-options';
import type { Executor } from './executor.types';
import { HttpExecutor } from './http.executor';

/** Thrown when an agent definition cannot get an executor (missing `command`, `url` or `handler`). */
export class ExecutorConfigError extends Error {
  constructor(
    readonly agent: string,
    message: string,
  ) {
    super(`agent ${agent}: ${message}`);
    this.name = 'ExecutorConfigError';
  }
}

/** Builds the executor an agent definition asks for. Throws {@link ExecutorConfigError} when it cannot. */
export function createExecutor(agent: AgentDefinition, options: ExecutorOptions): Executor {
  switch (agent.executor) {
    case 'builtin': {
      const handler =
        agent.handler ?? (options.builtinHandlers.has(agent.name) ? agent.name : undefined);
      if (!handler)
        throw new ExecutorConfigError(agent.name, 'executor: builtin needs a `handler`');
      return new BuiltinExecutor(handler, options, agent.path ? dirname(agent.path) : undefined);
    }
    case 'command':
      if (!agent.command || agent.command.length === 0)
        throw new ExecutorConfigError(agent.name, 'executor: command needs a `command` argv list');
      return new CommandExecutor(agent.command, options);
    case 'http':
      if (!agent.url) throw new ExecutorConfigError(agent.name, 'executor: http needs a `url`');
      try {
        const u = new URL(agent.url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
      } catch {
        throw new ExecutorConfigError(agent.name, `invalid url ${agent.url}`);
      }
      return new HttpExecutor(agent.url, options);
    case 'claude':
      return new ClaudeExecutor(options);
    default: {
      const kind: never = agent.executor;
      throw new ExecutorConfigError(agent.name, `unknown executor ${String(kind)}`);
    }
  }
}
