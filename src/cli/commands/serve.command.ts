import type { Command } from 'commander';
import { startServer } from '../../http-server/create-app';

/** `switchyard serve`: run the control plane (what `npm start` does). */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the control plane: REST API, OpenAPI docs, live feed, dispatch loop')
    .action(async () => {
      const { app, url } = await startServer();
      const stop = async (signal: string) => {
        process.stderr.write(`\n${signal}: shutting down...\n`);
        await app.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.stderr.write(`Switchyard control plane listening on ${url} (docs: ${url}/docs)\n`);
    });
}
