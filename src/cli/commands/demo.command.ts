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
import { renderTaskTree } from '../task-tree';
import type { TaskTreeNode } from '../../queue/task.types';
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

/** Worker processes the demo starts with RabbitMQ: the module reviews spread over both. */
const DEMO_WORKERS = ['demo-worker-1', 'demo-worker-2'];

/**
 * `switchyard demo` (`npm run demo`): starts a control plane and two worker processes, submits
 * the review-and-document workflow against this project's own src/ — the reviewer fans the
 * review out per module to reviewer tasks it delegates (they run in parallel on the reviewer
 * agents of both workers), merges their findings, then the doc-writer writes the report — follows
 * it live, and prints the delegation tree with timings and where the report was written. Without
 * RabbitMQ it runs in one process on the in-memory bus (one reviewer agent, several at once).
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
      const workers: ChildProcess[] = [];
      const shutdown = async () => {
        await Promise.all(
          workers
            .filter((w) => w.exitCode === null && w.signalCode === null)
            .map(async (w) => {
              const exited = new Promise((r) => w.once('exit', r));
              w.kill('SIGTERM');
              await exited;
            }),
        );
        await app.close();
      };
      try {
        if (distributed) {
          for (const id of DEMO_WORKERS) {
            workers.push(
              spawn(
                process.execPath,
                [join(ROOT, 'bin', 'switchyard.js'), 'worker', '--agents', agentsDir],
                { env: { ...env, WORKER_ID: id }, stdio: ['ignore', 'ignore', 'inherit'] },
              ),
            );
          }
        }
        say(
          `Control plane: ${url}   (Swagger UI ${url}/docs, console ${url}/, live feed ${url.replace(/^http/, 'ws')}/v1/live)`,
        );
        say(`Admin token:   ${env.SWITCHYARD_ADMIN_TOKEN}`);
        say(
          distributed
            ? `Workers:       ${DEMO_WORKERS.length} processes (${DEMO_WORKERS.join(', ')}) hosting ${agentsDir}`
            : `Worker:        in-process, hosting ${agentsDir}`,
        );

        const api = new ApiClient({ url, token: env.SWITCHYARD_ADMIN_TOKEN });
        for (const capability of ['code-review', 'documentation']) {
          // With two workers, wait for both reviewers so the module reviews spread over them.
          const want = capability === 'code-review' && distributed ? DEMO_WORKERS.length : 1;
          await waitFor(`an agent with capability ${capability}`, 30_000, async () => {
            const page = await api.get<{ items: unknown[] }>(`/v1/agents?capability=${capability}`);
            return page.items.length >= want ? true : undefined;
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
        say(
          `Submitting review-and-document: review ${resolve(opts.path)} per module (delegated), then write the report.`,
        );
        const follower = new WorkflowFollower(api, { pollMs: 500, timeoutMs: 10 * 60_000 });
        const result = await follower.run(workflow);
        if (!result.succeeded) {
          throw new CliError(
            `demo: the workflow ended ${result.status}; see \`switchyard workflow status\``,
            EXIT.failure,
          );
        }
        const docs = await api
          .get<{
            tasks: {
              id: string;
              ref?: string;
              result?: { reportPath?: string; findings?: number };
            }[];
          }>(`/v1/workflows/${result.workflowId ?? result.workflow?.id ?? ''}`)
          .catch(() => undefined);
        const report = docs?.tasks.find((t) => t.ref === 'docs')?.result;
        // The workflow as the root of one tree: its tasks, each with the tasks it delegated.
        const trees = await Promise.all(
          (docs?.tasks ?? []).map((t) => api.get<TaskTreeNode>(`/v1/tasks/${t.id}/tree`)),
        );
        if (trees.length > 0) {
          const starts = trees.map((t) => t.startedAt ?? t.createdAt).sort();
          const ends = trees.map((t) => t.completedAt ?? '').sort();
          const sum = (k: 'usd' | 'inputTokens' | 'outputTokens' | 'tokens') =>
            trees.reduce((n, t) => n + (t.treeCost?.[k] ?? 0), 0);
          say('\nThe team: the workflow, its tasks and the tasks they delegated');
          process.stdout.write(
            renderTaskTree({
              id: `workflow ${result.workflowId ?? ''}`,
              capability: 'review-and-document',
              status: result.status as TaskTreeNode['status'],
              depth: -1,
              createdAt: starts[0],
              startedAt: starts[0],
              completedAt: ends[ends.length - 1] || undefined,
              treeCost: {
                usd: sum('usd'),
                inputTokens: sum('inputTokens'),
                outputTokens: sum('outputTokens'),
                tokens: sum('tokens'),
              },
              children: trees,
            }),
          );
        }
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
