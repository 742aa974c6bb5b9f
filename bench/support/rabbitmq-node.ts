import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private RabbitMQ node for tests that must stop or restart the broker. The shared node on
 * 5672 is used by everyone's tests at once and must never be restarted.
 *
 * The node gets its own name, AMQP and distribution ports (free ones), data and log directories,
 * an empty plugin list, its own config file (the system one binds 5672) and its own Erlang cookie
 * (HOME points at a temp dir). Only epmd (4369) is shared, which is what epmd is for.
 */
export interface RabbitNode {
  nodeName: string;
  port: number;
  url: string;
  /** `rabbitmqctl stop_app`: closes every connection; the port stops answering. */
  stopApp(): Promise<void>;
  /** `rabbitmqctl start_app`, then waits until AMQP answers again. */
  startApp(): Promise<void>;
  /** `rabbitmqctl close_all_connections`: every client connection drops; the node stays up. */
  closeAllConnections(): Promise<void>;
  /** Stops the node and deletes its directories. */
  stop(): Promise<void>;
}

export const SBIN = process.env.RABBITMQ_SBIN ?? '/usr/lib/rabbitmq/bin';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => done(true));
  });
}

export async function waitFor(
  cond: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function startRabbitNode(): Promise<RabbitNode> {
  const server = join(SBIN, 'rabbitmq-server');
  const ctl = join(SBIN, 'rabbitmqctl');
  if (!existsSync(server) || !existsSync(ctl)) {
    throw new Error(`rabbitmq-server/rabbitmqctl not found in ${SBIN} (set RABBITMQ_SBIN)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sytest-rmq-'));
  const port = await freePort();
  let distPort = await freePort();
  while (distPort === port) distPort = await freePort();
  const nodeName = `sytest-${randomBytes(4).toString('hex')}@localhost`;

  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [`listeners.tcp.default = 127.0.0.1:${port}`, 'loopback_users = none', ''].join('\n'),
  );
  // Our own env file instead of /etc/rabbitmq/rabbitmq-env.conf (which names the shared node).
  writeFileSync(join(dir, 'rabbitmq-env.conf'), 'ERL_EPMD_ADDRESS=127.0.0.1\n');
  writeFileSync(join(dir, '.erlang.cookie'), randomBytes(20).toString('hex'));
  chmodSync(join(dir, '.erlang.cookie'), 0o400);

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    LANG: 'C.UTF-8',
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
  };
  const out = openSync(join(dir, 'server.out'), 'a');
  const child: ChildProcess = spawn(server, [], { env, stdio: ['ignore', out, out] });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const rabbitmqctl = (...args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      execFile(ctl, ['-n', nodeName, ...args], { env, timeout: 30_000 }, (err, _o, stderr) => {
        if (err)
          reject(new Error(`rabbitmqctl ${args.join(' ')} failed: ${stderr || err.message}`));
        else resolve();
      });
    });

  const stop = async (): Promise<void> => {
    if (!exited) {
      await rabbitmqctl('stop').catch(() => undefined);
      await waitFor(async () => exited, 10_000, 'the node to exit').catch(() => {
        child.kill('SIGKILL');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`rabbitmq-server exited early; see ${join(dir, 'server.out')}`);
        return portAnswers(port);
      },
      60_000,
      `private RabbitMQ node ${nodeName} on port ${port}`,
    );
    await rabbitmqctl('await_startup', '-t', '30');
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    nodeName,
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    stopApp: async () => {
      await rabbitmqctl('stop_app');
    },
    startApp: async () => {
      await rabbitmqctl('start_app');
      await waitFor(() => portAnswers(port), 30_000, `node ${nodeName} to answer again`);
    },
    closeAllConnections: async () => {
      await rabbitmqctl('close_all_connections', 'test: forced reconnect');
    },
    stop,
  };
}
