import type { Command } from 'commander';

/** `switchyard worker --agents DIR`: host the agents of DIR. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'Host the agents defined in DIR: register, heartbeat, consume their tasks, run them',
    )
    .requiredOption('--agents <dir>', 'directory of agent definition files (Claude Code format)')
    .action(async (opts: { agents: string }) => {
      const { startWorker } = await import('../../worker/start-worker');
      const { app, worker } = await startWorker({ agentsDir: opts.agents });
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`${signal}: draining worker ${worker.workerId}...\n`);
        await app.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.stderr.write(
        `Switchyard worker ${worker.workerId}: ${worker.registeredIds.join(', ')}\n`,
      );
    });
}
