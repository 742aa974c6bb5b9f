import { resolve } from 'node:path';
import type { Command } from 'commander';

/** `switchyard serve`: run the control plane (what `npm start` does). */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the control plane: REST API, OpenAPI docs, live feed, dispatch loop')
    .option(
      '--agents <dir>',
      'also host the agents of DIR in this process (single-process mode; pairs well with BUS_TRANSPORT=memory)',
    )
    .action(async (opts: { agents?: string }) => {
      // Loaded here, not at the top: other commands should not pay for booting NestJS.
      const { startServer } = await import('../../http-server/create-app');
      const { EmbeddedWorkerModule } = await import('../../worker/embedded-worker.module');
      const modules = opts.agents ? [EmbeddedWorkerModule.forAgents(resolve(opts.agents))] : [];
      const { app, url } = await startServer({ modules });
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`\n${signal}: shutting down...\n`);
        await app.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.stderr.write(`Switchyard control plane listening on ${url} (docs: ${url}/docs)\n`);
    });
}
