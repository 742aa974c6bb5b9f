#!/usr/bin/env node
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { ConfigValidationError } from '../config/load-config';
import { COMMANDS } from './commands';
import { EXIT } from './exit-codes';

// Defined in exit-codes.ts so command files can use them without importing this entry point.
export { EXIT };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('switchyard')
    .description('Switchyard: a control plane for teams of AI agents')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

export async function run(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (e instanceof ConfigValidationError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = EXIT.config;
      return;
    }
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = (e as { exitCode?: number }).exitCode ?? EXIT.failure;
  }
}

if (require.main === module) {
  void run(process.argv);
}
