import type { Command } from 'commander';
import { AgentDirectoryError } from '../../agents/agent-directory.error';
import { loadAgentDirectory } from '../../agents/agent-loader';
import { formatAgentsLintReport, toAgentsLintJson } from './agents-lint.report';

/** `EXIT.usage` of cli/main.ts (not imported from there: main imports every command). */
const EXIT_USAGE = 2;

/** `switchyard agents ...`: work with agent definition files locally (no server needed). */
export function registerAgentsCommand(program: Command): void {
  const agents = program
    .command('agents')
    .description('Agent definition files (Claude Code format)');
  agents
    .command('lint <dir>')
    .description(
      'Load every *.md under <dir> as the worker would and report loaded agents, skipped files and warnings. ' +
        'Exits 0 even when files are skipped; 2 when <dir> does not exist.',
    )
    .option('--json', 'print one JSON object {"loaded":[...],"skipped":[...]}')
    .action(async (dir: string, opts: { json?: boolean }) => {
      let result;
      try {
        result = await loadAgentDirectory(dir);
      } catch (e) {
        if (e instanceof AgentDirectoryError) throw Object.assign(e, { exitCode: EXIT_USAGE });
        throw e;
      }
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(toAgentsLintJson(result))}\n`
          : formatAgentsLintReport(result, dir),
      );
    });
}
