import type { Command } from 'commander';
import { runStdioProxy } from '../../mcp/client/stdio-proxy';
import { CliError } from '../cli-error';
import { EXIT } from '../exit-codes';

interface McpOptions {
  url?: string;
  token?: string;
}

/**
 * `switchyard mcp --url URL --token TOKEN`: the Switchyard MCP tools over stdio. Nothing but
 * MCP messages may go to stdout, so this command prints only errors, on stderr.
 */
export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description(
      'Serve the Switchyard MCP tools over stdio (for `claude mcp add switchyard -- npx switchyard mcp ...`)',
    )
    .option('--url <url>', 'control-plane URL (env SWITCHYARD_URL, default http://localhost:3000)')
    .option(
      '--token <token>',
      'API token or task credential (env SWITCHYARD_TOKEN or SWITCHYARD_TASK_TOKEN)',
    )
    .action(async (opts: McpOptions) => {
      const env = process.env;
      const url = opts.url ?? env.SWITCHYARD_URL ?? 'http://localhost:3000';
      const token = opts.token ?? (env.SWITCHYARD_TOKEN || env.SWITCHYARD_TASK_TOKEN || undefined);
      if (!token) {
        throw new CliError('no token given: pass --token or set SWITCHYARD_TOKEN', EXIT.usage);
      }
      try {
        await runStdioProxy({ url, token });
      } catch (e) {
        throw new CliError(
          `cannot reach Switchyard MCP at ${url}: ${(e as Error).message}`,
          EXIT.unreachable,
        );
      }
      // Runs until stdin closes.
      await new Promise<void>((resolve) => process.stdin.once('close', resolve));
    });
}
