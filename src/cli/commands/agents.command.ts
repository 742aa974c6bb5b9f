import type { Command } from 'commander';
import { AgentDirectoryError } from '../../agents/agent-directory.error';
import { loadAgentDirectory } from '../../agents/agent-loader';
import { CliError } from '../cli-error';
import { EXIT } from '../exit-codes';
import { output } from '../output.util';
import { formatAgentsLintReport, toAgentsLintJson } from './agents-lint.report';

/** `switchyard agents ...`: work with agent definition files locally (no server needed). */
export function registerAgentsCommand(program: Command): void {
  const agents = program
    .command('agents')
    .description('Agent definition files (Claude Code format), checked locally');
  agents
    .command('lint <dir>')
    .description(
      'Load every *.md under <dir> as a worker would and report loaded agents, skipped files ' +
        'and warnings. Exits 0 even when files are skipped; 2 when <dir> does not exist.',
    )
    .option('--json', 'print one JSON object {"loaded":[...],"skipped":[...]}')
    .action(async (dir: string, opts: { json?: boolean }) => {
      let result;
      try {
        result = await loadAgentDirectory(dir);
      } catch (e) {
        if (e instanceof AgentDirectoryError) throw new CliError(e.message, EXIT.usage);
        throw e;
      }
      output(opts.json, toAgentsLintJson(result), () => formatAgentsLintReport(result, dir));
    });
}
