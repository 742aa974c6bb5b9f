import type { Command } from 'commander';
import { registerAgentsCommand } from './agents.command';
import { registerAuthCommand } from './auth.command';
import { registerServeCommand } from './serve.command';

/** Every CLI command group. Add a `register*Command` here to add a command. */
export const COMMANDS: ((program: Command) => void)[] = [
  registerServeCommand,
  registerAuthCommand,
  registerAgentsCommand,
];
