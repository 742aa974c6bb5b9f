import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config';
import { ApiClient } from '../api-client';
import { CliError } from '../cli-error';
import { EXIT } from '../exit-codes';
import { WorkflowFollower } from '../workflow-follower';

const ROOT = join(__dirname, '..', '..', '..', '..');
const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** Resolves true when a TCP connection to host:port opens within `timeoutMs`. */
function reachable(url: string, defaultPort: number, timeoutMs = 1500): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port || defaultPort);
  return new Promise((done) => {
    const socket = new Socket();
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.connect(port, u.hostname, () => finish(true));
  });
}

function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((ok, fail) => {
      const srv = createServer();
      srv.once('error', fail);
      srv.listen(port, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => ok(p));
      });
    });
  return tryPort(preferred).catch(() => tryPort(0));
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new CliError(`demo: timed out waiting for ${what}`, EXIT.failure);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface DemoOptions {
  agents: string;
  path: string;
  out: string;
  keepRunning?: boolean;
}

/**
 * `switchyard demo` (`npm run demo`): starts a control plane and a worker process, submits the
 * review-and-document workflow against this project's own src/, follows it live and prints
 * where the report was written. Without RabbitMQ it runs in one process on the in-memory bus.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the review-and-document workflow end to end, with nobody in the loop')
    .option('--agents <dir>', 'agent definitions to host', join(ROOT, 'examples', 'agents'))
    .option('--path <dir>', 'TypeScript directory the code-reviewer reviews', join(ROOT, 'src'))
    .option(
      '--out <file>',
      'where the doc-writer writes its report',
      join(ROOT, 'reports', 'review-and-document.md'),
    )
    .option(
      '--keep-running',
      'leave the control plane and worker running afterwards (Ctrl-C to stop)',
    )
    .action(async (opts: DemoOptions) => {
      const env: Record<string, string | undefined> = { ...process.env };
      env.SWITCHYARD_ADMIN_TOKEN ??= `demo-${randomBytes(16).toString('hex')}`;
      env.REDIS_KEY_PREFIX ??= 'sy-demo:';
      // The doc-writer writes only under WORKER_REPORTS_DIR: let it write where --out points.
      env.WORKER_REPORTS_DIR ??= dirname(resolve(opts.out));
      env.BUS_NAMESPACE ??= 'sy-demo';
      env.LOG_LEVEL ??= 'warn';
      env.PORT = String(await freePort(Number(env.PORT ?? 3000)));
      const config = loadConfig(env);

      if (!(await reachable(config.redis.url, 6379))) {
        throw new CliError(
          `demo: Redis is not reachable at ${config.redis.url}. Switchyard keeps its task records there; ` +
            'start Redis (e.g. `redis-server --daemonize yes`) or set REDIS_URL.',
          EXIT.unreachable,
        );
      }
      const distributed =
        config.bus.transport === 'rabbitmq' && (await reachable(config.bus.amqpUrl, 5672));
      if (!distributed) {
        env.BUS_TRANSPORT = 'memory';
        say(
          'RabbitMQ is not reachable: running in single-process mode (in-memory bus, agents in-process).',
        );
      }

      const agentsDir = resolve(opts.agents);
      const { startServer } = await import('../../http-server/create-app');
      const { EmbeddedWorkerModule } = await import('../../worker/embedded-worker.module');
      const { app, url } = await startServer({
        env,
        modules: distributed ? [] : [EmbeddedWorkerModule.forAgents(agentsDir)],
      });
      let worker: ChildProcess | undefined;
      const shutdown = async () => {
        if (worker && worker.exitCode === null) {
          worker.kill('SIGTERM');
          await new Promise((r) => worker!.once('exit', r));
        }
        await app.close();
      };
      try {
        if (distributed) {
          worker = spawn(
            process.execPath,
            [join(ROOT, 'bin', 'switchyard.js'), 'worker', '--agents', agentsDir],
            {
              env: { ...env, WORKER_ID: env.WORKER_ID ?? 'demo-worker' },
              stdio: ['ignore', 'ignore', 'inherit'],
            },
          );
        }
        say(
          `Control plane: ${url}   (Swagger UI ${url}/docs, console ${url}/, live feed ${url.replace(/^http/, 'ws')}/v1/live)`,
        );
        say(`Admin token:   ${env.SWITCHYARD_ADMIN_TOKEN}`);
        say(
          distributed
            ? 'Worker:        a separate process hosting examples/agents'
            : 'Worker:        in-process',
        );

        const api = new ApiClient({ url, token: env.SWITCHYARD_ADMIN_TOKEN });
        for (const capability of ['code-review', 'documentation']) {
          await waitFor(`an agent with capability ${capability}`, 30_000, async () => {
            const page = await api.get<{ items: unknown[] }>(`/v1/agents?capability=${capability}`);
            return page.items.length > 0 ? true : undefined;
          });
        }

        const workflow = JSON.parse(
          readFileSync(join(ROOT, 'examples', 'workflows', 'review-and-document.json'), 'utf8'),
        ) as { tasks: { ref: string; payload?: Record<string, unknown> }[] };
        for (const t of workflow.tasks) {
          if (t.ref === 'review') t.payload = { ...t.payload, path: resolve(opts.path) };
          if (t.ref === 'docs')
            t.payload = { ...t.payload, outPath: resolve(opts.out), overwrite: true };
        }
        say(`Submitting review-and-document: review ${resolve(opts.path)}, then write the report.`);
        const follower = new WorkflowFollower(api, { pollMs: 500, timeoutMs: 10 * 60_000 });
        const result = await follower.run(workflow);
        if (!result.succeeded) {
          throw new CliError(
            `demo: the workflow ended ${result.status}; see \`switchyard workflow status\``,
            EXIT.failure,
          );
        }
        const docs = await api
          .get<{ tasks: { ref?: string; result?: { reportPath?: string; findings?: number } }[] }>(
            `/v1/workflows/${result.workflow?.id ?? ''}`,
          )
          .catch(() => undefined);
        const report = docs?.tasks.find((t) => t.ref === 'docs')?.result;
        say(
          `\nReport written to ${report?.reportPath ? resolve(report.reportPath) : resolve(opts.out)}`,
        );
        if (opts.keepRunning) {
          say('Still running (--keep-running). Ctrl-C to stop.');
          await new Promise<void>((r) => process.once('SIGINT', () => r()));
        }
      } finally {
        await shutdown();
      }
    });
}
