/**
 * A private Redis master + replica(s) + Sentinels on free ports, for the HA harness
 * (`npm run test:ha`) and for tests that need a failover. Plain `redis-server` processes (the
 * Sentinels are `redis-server <conf> --sentinel`), data and configs in one temp dir, everything
 * killed and removed by `stop()`. The shared Redis on 6379 is never touched.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Owned, waitTcp } from '../chaos/chaos';
import { freePort } from '../support/switchyard-processes';

export interface SentinelTopologyOptions {
  /** Replicas of the master (default 1). */
  replicas?: number;
  /** Sentinels (default 3; quorum is a majority). */
  sentinels?: number;
  /** Master name the Sentinels monitor (default `syha`). */
  name?: string;
  /** `down-after-milliseconds` (default 1000). */
  downAfterMs?: number;
  /** `failover-timeout` (default 5000). */
  failoverTimeoutMs?: number;
}

export interface RedisNode extends Owned {
  port: number;
}

export interface SentinelTopology {
  name: string;
  /** Every data node (initially master first, then the replicas). */
  nodes: RedisNode[];
  sentinels: RedisNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,...`: what REDIS_SENTINELS takes. */
  sentinelList: string;
  /** The master's port as a majority of the Sentinels report it now. */
  masterPort(): Promise<number>;
  /** The data node that is master now (per the Sentinels). */
  master(): Promise<RedisNode>;
  /** Waits until the Sentinels name a master other than `port` and it answers as master. */
  waitForNewMaster(oldPort: number, timeoutMs: number): Promise<number>;
  /** Kills and deletes everything. */
  stop(): Promise<void>;
}

export async function startSentinelTopology(
  options: SentinelTopologyOptions = {},
): Promise<SentinelTopology> {
  const name = options.name ?? 'syha';
  const dir = mkdtempSync(join(tmpdir(), 'sy-sentinel-'));
  const nodes: RedisNode[] = [];
  const sentinels: RedisNode[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...nodes].map((p) => p.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  const server = (label: string, port: number, args: string[]): RedisNode => {
    const cwd = join(dir, label);
    mkdirSync(cwd, { recursive: true });
    // cwd = --dir: RDB/AOF and the sentinel's rewritten config stay in the temp dir.
    const p = new Owned(label, () =>
      spawn('redis-server', args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] }),
    ) as RedisNode;
    p.port = port;
    return p;
  };
  try {
    const masterPort = await freePort();
    // AOF as in production (DEPLOYMENT.md): a node restarted by its supervisor comes back with
    // its data, never as an empty master the Sentinels might still name.
    const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes'];
    nodes.push(server('redis-0', masterPort, ['--port', String(masterPort), ...common]));
    for (let i = 1; i <= (options.replicas ?? 1); i++) {
      const port = await freePort();
      nodes.push(
        server(`redis-${i}`, port, [
          '--port',
          String(port),
          ...common,
          '--replicaof',
          '127.0.0.1',
          String(masterPort),
        ]),
      );
    }
    await Promise.all(nodes.map((n) => waitTcp(n.port, 20_000, n.name)));
    const count = options.sentinels ?? 3;
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${join(dir)}`,
          `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${Math.floor(count / 2) + 1}`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 5000}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(server(`sentinel-${i}`, port, [conf, '--sentinel']));
    }
    await Promise.all(sentinels.map((s) => waitTcp(s.port, 20_000, s.name)));
  } catch (e) {
    await stop();
    throw e;
  }

  const ask = async <T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      commandTimeout: 1000,
      retryStrategy: () => null,
    });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };
  const masterPortNow = async (): Promise<number> => {
    const votes = new Map<number, number>();
    await Promise.all(
      sentinels
        .filter((s) => s.running)
        .map(async (s) => {
          const addr = await ask(s.port, (r) =>
            r.call('SENTINEL', 'get-master-addr-by-name', name),
          ).catch(() => null);
          const port = Array.isArray(addr) ? Number(addr[1]) : NaN;
          if (Number.isFinite(port)) votes.set(port, (votes.get(port) ?? 0) + 1);
        }),
    );
    const [best] = [...votes.entries()].sort((a, b) => b[1] - a[1]);
    if (!best) throw new Error('no Sentinel answered');
    return best[0];
  };
  const role = (port: number) =>
    ask(port, async (r) => ((await r.call('ROLE')) as unknown[])[0] as string).catch(() => null);
  // Replicas report master_link_status up once the first sync is done.
  const until = Date.now() + 20_000;
  for (;;) {
    const linked = await Promise.all(
      nodes.slice(1).map((n) =>
        ask(n.port, (r) => r.info('replication')).then(
          (s) => s.includes('master_link_status:up'),
          () => false,
        ),
      ),
    );
    const known = await ask(sentinels[0].port, (r) => r.call('SENTINEL', 'replicas', name)).catch(
      () => [],
    );
    if (linked.every(Boolean) && (known as unknown[]).length >= nodes.length - 1) break;
    if (Date.now() > until) {
      await stop();
      throw new Error('replicas did not sync / Sentinels did not discover them within 20 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    name,
    nodes,
    sentinels,
    sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    masterPort: masterPortNow,
    master: async () => {
      const port = await masterPortNow();
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`Sentinels name an unknown master :${port}`);
      return node;
    },
    waitForNewMaster: async (oldPort, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const port = await masterPortNow().catch(() => oldPort);
        if (port !== oldPort && (await role(port)) === 'master') return port;
        if (Date.now() > deadline) throw new Error(`no new master within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
}
