/**
 * A private three-node RabbitMQ cluster on this machine, for the HA harness (`npm run test:ha`)
 * and for tests that need a node to die. Each node is a {@link startRabbitNode} node (its own
 * name@localhost, AMQP and distribution ports, data/log dirs in a temp dir); they share one Erlang
 * cookie and nodes 2..n `join_cluster` node 1. The shared node on 5672 is never touched.
 */
import { randomBytes } from 'node:crypto';
import { type RabbitNode, startRabbitNode } from '../support/rabbitmq-node';

export interface RabbitCluster {
  nodes: RabbitNode[];
  /** One AMQP URL per node, in node order (what AMQP_URLS lists, comma-joined). */
  urls: string[];
  /** Node names that are running members of the cluster, as node 1 (or the first live) sees it. */
  runningNodes(): Promise<string[]>;
  /** SIGKILL node i's Erlang VM (the others keep quorum). */
  killNode(i: number): Promise<void>;
  /** Stops every node still running and deletes their directories. */
  stop(): Promise<void>;
}

export interface RabbitClusterOptions {
  size?: number;
  /** Node name prefix (default `syha`). */
  namePrefix?: string;
}

export async function startRabbitCluster(
  options: RabbitClusterOptions = {},
): Promise<RabbitCluster> {
  const size = options.size ?? 3;
  const cookie = randomBytes(20).toString('hex');
  const killed = new Set<number>();
  const started = await Promise.allSettled(
    Array.from({ length: size }, () =>
      startRabbitNode({
        cookie,
        namePrefix: options.namePrefix ?? 'syha',
        // What a production cluster runs with: a minority side stops instead of diverging.
        config: ['cluster_partition_handling = pause_minority'],
      }),
    ),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  };
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  try {
    const [first, ...rest] = nodes;
    for (const node of rest) {
      await node.stopApp();
      await node.ctl('join_cluster', first.nodeName);
      await node.startApp();
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const cluster: RabbitCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    runningNodes: async () => {
      const live = nodes.find((_, i) => !killed.has(i));
      if (!live) return [];
      const out = await live.ctl('cluster_status', '--formatter', 'json');
      return (JSON.parse(out) as { running_nodes?: string[] }).running_nodes ?? [];
    },
    killNode: async (i: number) => {
      killed.add(i);
      await nodes[i].kill();
    },
    stop,
  };
  const running = await cluster.runningNodes();
  if (running.length !== size) {
    await stop();
    throw new Error(`RabbitMQ cluster formed with ${running.length} of ${size} nodes running`);
  }
  return cluster;
}
