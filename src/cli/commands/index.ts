import type { Command } from 'commander';
import { registerAgentsCommand } from './agents.command';
import { registerAgentCommand } from './agent.command';
import { registerAuthCommand } from './auth.command';
import { registerCircuitBreakerCommand } from './circuit-breaker.command';
import { registerDemoCommand } from './demo.command';
import { registerMcpCommand } from './mcp.command';
import { registerMetricsCommand } from './metrics.command';
import { registerQueueCommand } from './queue.command';
import { registerReportCommand } from './report.command';
import { registerServeCommand } from './serve.command';
import { registerStateCommand } from './state.command';
import { registerTaskCommand } from './task.command';
import { registerWorkerCommand } from './worker.command';
import { registerWorkflowCommand } from './workflow.command';

/** Every CLI command group. Add a `register*Command` here to add a command. */
export const COMMANDS: ((program: Command) => void)[] = [
  registerServeCommand,
  registerWorkerCommand,
  registerDemoCommand,
  registerAuthCommand,
  registerAgentCommand,
  registerTaskCommand,
  registerWorkflowCommand,
  registerQueueCommand,
  registerCircuitBreakerCommand,
  registerMetricsCommand,
  registerAgentsCommand,
  registerStateCommand,
  registerMcpCommand,
  registerReportCommand,
];
