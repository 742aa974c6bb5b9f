import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, portAnswers, SBIN, waitFor } from './rabbitmq-node';

/**
 * A private three-node RabbitMQ cluster on this machine, for tests that kill a node (issue 18,
 * test/integration/bus/rabbitmq-cluster.test.ts) and the HA harness (`npm run test:ha`,
 * bench/ha/ha.ts). The shared node on 5672 is never touched.
 *
 * Every node gets its own name (`<namePrefix>-<hex>-<i>@localhost`), AMQP and distribution ports (free
 * ones), config file, data and log directories; all share one Erlang cookie (HOME is the
 * cluster's temp dir, which holds `.erlang.cookie`) and the machine's epmd (4369), which is
 * already running for the shared node and is not ours to stop. Node 0 boots first; the others boot
 * with node 0 as their classic-config peer and join it at boot (a node that did not is joined
 * with `stop_app; join_cluster; start_app`) — on a loaded 2-core machine every rabbitmqctl call and
 * app restart costs seconds. `killNode(i)` SIGKILLs that node's beam.smp (its OS pid is the
 * node's pid file); `stop()` kills what is left and deletes the temp dir.
 */
export interface ClusterNode {
  index: number;
  nodeName: string;
  port: number;
  url: string;
  /** False once killed (or stopped). */
  alive: boolean;
}

export interface RabbitCluster {
  readonly nodes: ClusterNode[];
  /** AMQP URLs of every node, node 0 first (what AMQP_URLS gets). */
  urls(): string[];
  /** The node listening on `port`, if it is one of ours. */
  nodeByPort(port: number): ClusterNode | undefined;
  /** SIGKILLs node `i` (its beam.smp) and waits for the process to be gone. */
  killNode(i: number): Promise<void>;
  /** Starts a killed node `i` again on its data dir; it rejoins the cluster by itself. */
  restartNode(i: number): Promise<void>;
  /** The node currently leading quorum queue `queue` (asked through a live node). */
  queueLeader(queue: string): Promise<ClusterNode | undefined>;
  /** `rabbitmqctl <args>` against a live node; resolves with stdout. */
  ctl(...args: string[]): Promise<string>;
  /** Kills every node that is still running and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

interface NodeProcess extends ClusterNode {
  distPort: number;
  dir: string;
  child: ChildProcess;
  exited: boolean;
  osPid?: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000) {
  return new Promise<string>((resolve, reject) => {
    execFile(cmd, args, { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export interface RabbitClusterOptions {
  /** Nodes (default 3). */
  size?: number;
  /** Node name prefix (default `sytest`). */
  namePrefix?: string;
  /** More rabbitmq.conf lines for every node (e.g. `cluster_partition_handling = pause_minority`). */
  config?: string[];
}

export async function startRabbitCluster(
  options: RabbitClusterOptions = {},
): Promise<RabbitCluster> {
  const size = options.size ?? 3;
  const prefix = options.namePrefix ?? 'sytest';
  const server = join(SBIN, 'rabbitmq-server');
  const ctlBin = join(SBIN, 'rabbitmqctl');
  if (!existsSync(server) || !existsSync(ctlBin)) {
    throw new Error(`rabbitmq-server/rabbitmqctl not found in ${SBIN} (set RABBITMQ_SBIN)`);
  }
  const base = mkdtempSync(join(tmpdir(), 'sytest-rmq-cluster-'));
  writeFileSync(join(base, '.erlang.cookie'), randomBytes(20).toString('hex'));
  chmodSync(join(base, '.erlang.cookie'), 0o400);
  writeFileSync(join(base, 'enabled_plugins'), '[].\n');
  writeFileSync(join(base, 'rabbitmq-env.conf'), 'ERL_EPMD_ADDRESS=127.0.0.1\n');
  const tag = randomBytes(4).toString('hex');

  const used = new Set<number>();
  const port = async () => {
    let p = await freePort();
    while (used.has(p)) p = await freePort();
    used.add(p);
    return p;
  };

  const nodes: NodeProcess[] = [];
  let boot: (n: NodeProcess) => Promise<void> = () => Promise.resolve();
  const envOf = (n: { nodeName: string; port: number; distPort: number; dir: string }) => ({
    PATH: process.env.PATH,
    HOME: base,
    LANG: 'C.UTF-8',
    RABBITMQ_CONF_ENV_FILE: join(base, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: n.nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(n.port),
    RABBITMQ_DIST_PORT: String(n.distPort),
    RABBITMQ_MNESIA_BASE: join(n.dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(n.dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(n.dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(n.dir, 'advanced.config'),
  });
  const ctlOn = (n: NodeProcess, ...args: string[]) =>
    run(ctlBin, ['-n', n.nodeName, ...args], envOf(n));

  const launch = (node: NodeProcess) => {
    const out = openSync(join(node.dir, 'server.out'), 'a');
    const child = spawn(server, [], { env: envOf(node), stdio: ['ignore', out, out] });
    node.child = child;
    node.exited = false;
    node.alive = true;
    node.osPid = undefined;
    child.once('exit', () => {
      if (node.child === child) node.exited = true;
    });
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const n of nodes) {
      n.alive = false;
      if (n.osPid !== undefined && pidAlive(n.osPid)) process.kill(n.osPid, 'SIGKILL');
      if (!n.exited) n.child.kill('SIGKILL');
    }
    await waitFor(async () => nodes.every((n) => n.exited), 15_000, 'cluster nodes to exit').catch(
      () => undefined,
    );
    rmSync(base, { recursive: true, force: true });
  };

  try {
    const firstName = `${prefix}-${tag}-0@localhost`;
    boot = async (n: NodeProcess) => {
      await waitFor(
        async () => {
          if (n.exited) throw new Error(`${n.nodeName} exited early; see ${n.dir}/server.out`);
          return portAnswers(n.port);
        },
        180_000,
        `cluster node ${n.nodeName} on port ${n.port}`,
      );
      await ctlOn(n, 'await_startup', '-t', '120');
      const pidFile = join(n.dir, 'mnesia', `${n.nodeName}.pid`);
      n.osPid = Number(readFileSync(pidFile, 'utf8').trim());
    };
    for (let i = 0; i < size; i++) {
      if (i === 1) await boot(nodes[0]);
      const dir = join(base, `n${i}`);
      mkdirSync(dir);
      const p = await port();
      const distPort = await port();
      const nodeName = `${prefix}-${tag}-${i}@localhost`;
      const conf = [
        `listeners.tcp.default = 127.0.0.1:${p}`,
        'loopback_users = none',
        ...(options.config ?? []),
      ];
      if (i > 0) {
        conf.push(
          'cluster_formation.peer_discovery_backend = classic_config',
          `cluster_formation.classic_config.nodes.1 = ${firstName}`,
        );
      }
      writeFileSync(join(dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
      const spec = { nodeName, port: p, distPort, dir };
      const node = {
        ...spec,
        index: i,
        url: `amqp://guest:guest@127.0.0.1:${p}`,
      } as NodeProcess;
      launch(node);
      nodes.push(node);
    }
    if (size === 1) await boot(nodes[0]);
    // Nodes 1..n-1 boot in parallel and join node 0 by peer discovery.
    await Promise.all(nodes.slice(1).map(boot));
    const first = nodes[0];
    const running = async () =>
      (
        JSON.parse(await ctlOn(first, 'cluster_status', '--formatter', 'json')) as {
          running_nodes?: string[];
        }
      ).running_nodes ?? [];
    let members = await running();
    for (const n of nodes.slice(1)) {
      if (members.includes(n.nodeName)) continue;
      await ctlOn(n, 'stop_app');
      await ctlOn(n, 'join_cluster', first.nodeName);
      await ctlOn(n, 'start_app');
      await ctlOn(n, 'await_startup', '-t', '120');
    }
    members = await running();
    if (members.length !== size) {
      throw new Error(
        `cluster formed with ${members.length}/${size} running nodes: ${members.join(', ')}`,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const live = () => nodes.find((n) => n.alive && !n.exited);
  const ctl = async (...args: string[]): Promise<string> => {
    const n = live();
    if (!n) throw new Error('no live cluster node');
    return ctlOn(n, ...args);
  };

  return {
    nodes,
    urls: () => nodes.map((n) => n.url),
    nodeByPort: (p) => nodes.find((n) => n.port === p),
    killNode: async (i) => {
      const n = nodes[i];
      if (!n) throw new Error(`no node ${i}`);
      n.alive = false;
      if (n.osPid !== undefined && pidAlive(n.osPid)) process.kill(n.osPid, 'SIGKILL');
      await waitFor(
        async () => n.exited && (n.osPid === undefined || !pidAlive(n.osPid)),
        15_000,
        `${n.nodeName} to die`,
      );
    },
    restartNode: async (i) => {
      const n = nodes[i];
      if (!n) throw new Error(`no node ${i}`);
      if (!n.exited) throw new Error(`${n.nodeName} is still running`);
      launch(n);
      await boot(n);
    },
    queueLeader: async (queue) => {
      const out = await ctl('list_queues', 'name', 'leader', '--formatter', 'json', '-q');
      const rows = JSON.parse(out) as { name: string; leader?: string }[];
      const leader = rows.find((r) => r.name === queue)?.leader;
      return nodes.find((n) => n.nodeName === leader);
    },
    ctl,
    stop,
  };
}
