import { Logger } from '@nestjs/common';
import { startServer } from './http-server/create-app';

/**
 * The conventional NestJS entry (`nest start`, `node dist/main.js`): runs the control plane as
 * `switchyard serve` does (REST API, OpenAPI docs, live feed, dispatch loop), configured from the
 * environment, and shuts it down gracefully on SIGINT/SIGTERM. The CLI (`bin/switchyard.js`) stays
 * the documented way to run Switchyard; this entry is for tooling that expects `main`.
 */
async function bootstrap(): Promise<void> {
  const logger = new Logger('main');
  const { app, url } = await startServer();
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  logger.log(`Switchyard control plane listening on ${url} (docs: ${url}/docs)`);
}

bootstrap().catch((e: unknown) => {
  new Logger('main').error(`cannot start: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
