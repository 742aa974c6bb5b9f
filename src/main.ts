import { Logger } from '@nestjs/common';
import { startServer } from './http-server/create-app';

/**
 * The conventional NestJS entry (`nest start`, `node dist/main.js`): runs the control plane as
 * `switchyard serve` does (REST API, OpenAPI docs, live feed, dispatch loop), configured from the
 * environment. SIGINT/SIGTERM close it gracefully through Nest's shutdown hooks (enabled by
 * createApp), which then re-raise the signal. The CLI (`bin/switchyard.js`) stays the documented
 * way to run Switchyard; this entry is for tooling that expects `main`.
 */
async function bootstrap(): Promise<void> {
  const logger = new Logger('main');
  const { url } = await startServer();
  logger.log(`Switchyard control plane listening on ${url} (docs: ${url}/docs)`);
}

bootstrap().catch((e: unknown) => {
  new Logger('main').error(`cannot start: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
