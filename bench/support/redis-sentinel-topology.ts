import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './switchyard-processes';

/**
 * A private Redis Sentinel topology for tests and benches: a master, `replicas` replicas and
 * `sentinels` Sentinels (`redis-server --sentinel`), all real processes on free ports of
 * 127.0.0.1 with their files in a temp dir. Never touches the shared Redis. Used by
 * test/integration/ha, `npm run bench -- pipeline --replica` and the HA harness
 * (`npm run test:ha`, bench/ha/ha.ts: AOF on, the old master restarted as its supervisor would).
 *
 *   const topo = await RedisSentinelTopology.start();     // waits until Sentinels agree
 *   loadConfig({ ...topo.env(), ... });                   // REDIS_SENTINELS / _NAME
 *   const old = await topo.killMaster();                   // SIGKILL
 *   const now = await topo.waitForFailover(old);           // a replica promoted
 *   await topo.restartAsReplica(old);                       // the old node back, as a replica
 *   await topo.stop();                                      // kills everything, removes the dir
 *
 * Every process is also SIGKILLed when the Node process exits (a failed test cannot leak one).
 * Timings are small (down-after 1000 ms, failover-timeout 3000 ms) so a failover takes seconds.
 */

export interface SentinelTopologyOptions {
  replicas?: number;
  sentinels?: number;
  /** Master name in sentinel.conf. */
  name?: string;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /**
   * `--appendonly yes` on the data nodes (default false), as in production (DEPLOYMENT.md): a node
   * restarted with {@link RedisSentinelTopology.restart} comes back with its data, never as an
   * empty master the Sentinels might still name.
   */
  appendOnly?: boolean;
  /**
   * `--repl-diskless-sync yes --repl-diskless-sync-delay 0` (default true): a full resync starts
   * at once. False keeps Redis's own defaults (the HA harness measures with those).
   */
  fastSync?: boolean;
  /** Extra `redis-server` arguments for the data nodes. */
  nodeArgs?: string[];
}

export interface Address {
  host: string;
  port: number;
}

const HOST = '127.0.0.1';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Everything started by any topology; killed on exit. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** A one-shot admin connection that never retries (a dead node answers with an error at once). */
async function withClient<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 2000,
    enableOfflineQueue: false,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

class Node {
  proc?: ChildProcess;
  /** The arguments it was last started with (what {@link RedisSentinelTopology.restart} reuses). */
  args: string[] = [];
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  spawn(args: string[]): void {
    mkdirSync(this.dir, { recursive: true });
    this.args = args;
    const proc = spawn('redis-server', args, { stdio: 'ignore', cwd: this.dir });
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    this.proc = proc;
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || !this.alive) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGCONT'); // a paused process must not keep its port
    p.kill('SIGKILL');
    await gone;
  }

  async waitUp(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await withClient(this.port, (c) => c.ping());
        return;
      } catch (e) {
        if (Date.now() > deadline)
          throw new Error(`redis on ${this.port} did not start: ${String(e)}`);
        await sleep(50);
      }
    }
  }
}

export class RedisSentinelTopology {
  readonly name: string;
  private masterPort: number;

  private constructor(
    readonly dir: string,
    readonly nodes: Node[],
    readonly sentinelNodes: Node[],
    private readonly opts: Required<SentinelTopologyOptions>,
  ) {
    this.name = opts.name;
    this.masterPort = nodes[0].port;
  }

  /** Starts the topology and resolves once the Sentinels see the replicas and each other. */
  static async start(options: SentinelTopologyOptions = {}): Promise<RedisSentinelTopology> {
    const opts: Required<SentinelTopologyOptions> = {
      replicas: 1,
      sentinels: 3,
      name: 'sy-master',
      downAfterMs: 1000,
      failoverTimeoutMs: 3000,
      appendOnly: false,
      fastSync: true,
      nodeArgs: [],
      ...options,
    };
    const dir = mkdtempSync(join(tmpdir(), 'sy-sentinel-'));
    const nodes: Node[] = [];
    for (let i = 0; i <= opts.replicas; i++)
      nodes.push(new Node(await freePort(), join(dir, `node-${i}`)));
    const sentinels: Node[] = [];
    for (let i = 0; i < opts.sentinels; i++)
      sentinels.push(new Node(await freePort(), join(dir, `sentinel-${i}`)));
    const topo = new RedisSentinelTopology(dir, nodes, sentinels, opts);
    try {
      topo.startNode(nodes[0]);
      await nodes[0].waitUp();
      for (const n of nodes.slice(1)) topo.startNode(n, nodes[0].port);
      for (const n of nodes.slice(1)) await n.waitUp();
      await topo.waitReplicasLinked(nodes[0].port, opts.replicas);
      for (const s of sentinels) topo.startSentinel(s, nodes[0].port);
      for (const s of sentinels) await s.waitUp();
      await topo.waitSentinelsAgree();
      return topo;
    } catch (e) {
      await topo.stop();
      throw e;
    }
  }

  /** `host:port,...` of the Sentinels, the REDIS_SENTINELS value. */
  get sentinelList(): string {
    return this.sentinelNodes.map((s) => `${HOST}:${s.port}`).join(',');
  }

  /** The settings that point Switchyard at this topology. */
  env(): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinelList, REDIS_SENTINEL_NAME: this.name };
  }

  /** Ports of the data nodes (master and replicas). */
  get dataPorts(): number[] {
    return this.nodes.map((n) => n.port);
  }

  /** The master as a live Sentinel names it (what clients are told). */
  async currentMaster(): Promise<Address> {
    let last: unknown;
    for (const s of this.sentinelNodes) {
      if (!s.alive) continue;
      try {
        const [host, port] = (await withClient(s.port, (c) =>
          c.call('SENTINEL', 'get-master-addr-by-name', this.name),
        )) as [string, string];
        return { host, port: Number(port) };
      } catch (e) {
        last = e;
      }
    }
    throw new Error(`no Sentinel answered: ${String(last)}`);
  }

  /**
   * The master most of the live Sentinels name now (asked in parallel): what the Sentinels as a
   * group decided, rather than what the first one to answer says.
   */
  async agreedMaster(): Promise<Address> {
    const votes = new Map<number, number>();
    await Promise.all(
      this.sentinelNodes
        .filter((s) => s.alive)
        .map(async (s) => {
          const addr = await withClient(s.port, (c) =>
            c.call('SENTINEL', 'get-master-addr-by-name', this.name),
          ).catch(() => null);
          const port = Array.isArray(addr) ? Number(addr[1]) : NaN;
          if (Number.isFinite(port)) votes.set(port, (votes.get(port) ?? 0) + 1);
        }),
    );
    const [best] = [...votes.entries()].sort((a, b) => b[1] - a[1]);
    if (!best) throw new Error('no Sentinel answered');
    return { host: HOST, port: best[0] };
  }

  /** SIGKILLs the current master; returns its address. */
  async killMaster(): Promise<Address> {
    const master = await this.currentMaster();
    await this.kill(master.port);
    return master;
  }

  /** SIGKILLs the data node on `port` and waits until it is gone. */
  async kill(port: number): Promise<void> {
    await this.node(port).kill();
  }

  /**
   * Starts a killed data node again with the arguments it last ran with, without waiting for it
   * (what a supervisor does: the Sentinels turn a returning old master into a replica).
   */
  restart(port: number): void {
    const node = this.node(port);
    if (node.alive) throw new Error(`data node ${port} is still running`);
    node.spawn(node.args);
  }

  /**
   * Resolves with the new master once the Sentinels name another node and it is writable.
   * `agreed`: the new master as most Sentinels name it ({@link agreedMaster}), not the first.
   */
  async waitForFailover(
    old: Address,
    timeoutMs = 30_000,
    { agreed = false }: { agreed?: boolean } = {},
  ): Promise<Address> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const m = await (agreed ? this.agreedMaster() : this.currentMaster());
        if (m.port !== old.port) {
          const role = await withClient(m.port, (c) => c.call('ROLE'));
          if ((role as string[])[0] === 'master') {
            this.masterPort = m.port;
            return m;
          }
        }
      } catch {
        /* retry */
      }
      if (Date.now() > deadline) throw new Error(`no failover within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Starts a stopped node again as a replica of the current master; waits until it is linked. */
  async restartAsReplica(addr: Address): Promise<void> {
    const node = this.node(addr.port);
    await node.kill();
    const master = await this.currentMaster();
    this.startNode(node, master.port);
    await node.waitUp();
    await this.waitReplicasLinked(master.port, this.nodes.filter((n) => n.alive).length - 1);
  }

  /** SIGSTOP / SIGCONT a data node (a replica that stops acknowledging, for WAIT timeouts). */
  pause(port: number): void {
    this.node(port).proc?.kill('SIGSTOP');
  }

  resume(port: number): void {
    this.node(port).proc?.kill('SIGCONT');
  }

  /**
   * One line on who believes what, for a failover that takes long: per Sentinel the master it
   * names and whether it is in TILT mode (it then changes nothing, e.g. never turns a restarted
   * old master into a replica); per data node its role and, for a master, how many replicas are
   * connected (with REDIS_MIN_REPLICAS_ACK=1, 0 means no write is acknowledged).
   */
  async describe(): Promise<string> {
    const sentinels = await Promise.all(
      this.sentinelNodes.map(async (s) => {
        if (!s.alive) return `sentinel :${s.port} down`;
        try {
          return await withClient(s.port, async (c) => {
            const addr = (await c.call('SENTINEL', 'get-master-addr-by-name', this.name)) as
              string[] | null;
            const tilt = /sentinel_tilt:(\d)/.exec(await c.info('sentinel'))?.[1];
            return `sentinel :${s.port} names :${addr?.[1] ?? '?'}${tilt === '1' ? ' TILT' : ''}`;
          });
        } catch (e) {
          return `sentinel :${s.port} ${(e as Error).message}`;
        }
      }),
    );
    const data = await Promise.all(
      this.nodes.map(async (n) => {
        if (!n.alive) return `:${n.port} down`;
        try {
          return await withClient(n.port, async (c) => {
            const role = (await c.call('ROLE')) as unknown[];
            if (role[0] === 'master')
              return `:${n.port} master (${(role[2] as unknown[]).length} replica(s))`;
            return `:${n.port} ${String(role[0])} of :${String(role[2])} (${String(role[3])})`;
          });
        } catch (e) {
          return `:${n.port} ${(e as Error).message}`;
        }
      }),
    );
    return [...sentinels, ...data].join('; ');
  }

  /** Ports of the replicas of the current master. */
  async replicaPorts(): Promise<number[]> {
    const master = await this.currentMaster();
    return this.nodes.filter((n) => n.port !== master.port && n.alive).map((n) => n.port);
  }

  /**
   * Cuts replication from the current master without killing anything: the replicas are told to
   * authenticate as a user that does not exist and their links are dropped, so writes from now on
   * reach no replica (they are lost if the master dies next). {@link restoreReplication} undoes it.
   */
  async cutReplication(): Promise<void> {
    for (const port of await this.replicaPorts()) {
      await withClient(port, async (c) => {
        await c.config('SET', 'masteruser', 'sy-no-such-user');
        await c.config('SET', 'masterauth', 'sy-no-such-password');
      });
    }
    await withClient(this.masterPort, (c) => c.call('CLIENT', 'KILL', 'TYPE', 'replica'));
    // Wait until the master sees no replica any more.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const n = await withClient(this.masterPort, async (c) =>
        Number(/connected_slaves:(\d+)/.exec(await c.info('replication'))?.[1] ?? 0),
      );
      if (n === 0) return;
      await sleep(20);
    }
    throw new Error('replicas still connected after cutReplication');
  }

  /** Lets every live data node authenticate to its master again. */
  async restoreReplication(): Promise<void> {
    for (const n of this.nodes.filter((x) => x.alive)) {
      await withClient(n.port, async (c) => {
        await c.config('SET', 'masterauth', '');
        await c.config('SET', 'masteruser', '');
      });
    }
  }

  /** A plain connection to a data node (for assertions; the caller disconnects it). */
  connect(port: number): Redis {
    const c = new Redis({ host: HOST, port, maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    return c;
  }

  /** Kills every process and removes the temp dir. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all([...this.sentinelNodes, ...this.nodes].map((n) => n.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ internals

  private node(port: number): Node {
    const n = this.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no data node on port ${port}`);
    return n;
  }

  private startNode(node: Node, replicaOf?: number): void {
    node.spawn([
      '--port',
      String(node.port),
      '--bind',
      HOST,
      '--dir',
      node.dir,
      '--save',
      '',
      '--appendonly',
      this.opts.appendOnly ? 'yes' : 'no',
      ...(this.opts.fastSync
        ? ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0']
        : []),
      ...(replicaOf ? ['--replicaof', HOST, String(replicaOf)] : []),
      ...this.opts.nodeArgs,
    ]);
  }

  private startSentinel(node: Node, masterPort: number): void {
    mkdirSync(node.dir, { recursive: true });
    const conf = join(node.dir, 'sentinel.conf');
    const n = this.name;
    writeFileSync(
      conf,
      [
        `port ${node.port}`,
        `bind ${HOST}`,
        `dir ${node.dir}`,
        `sentinel monitor ${n} ${HOST} ${masterPort} ${Math.floor(this.opts.sentinels / 2) + 1}`,
        `sentinel down-after-milliseconds ${n} ${this.opts.downAfterMs}`,
        `sentinel failover-timeout ${n} ${this.opts.failoverTimeoutMs}`,
        `sentinel parallel-syncs ${n} 1`,
        '',
      ].join('\n'),
    );
    node.spawn([conf, '--sentinel']);
  }

  private async waitReplicasLinked(masterPort: number, count: number): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const info = await withClient(masterPort, (c) => c.info('replication')).catch(() => '');
      const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
      if (online >= count) return;
      if (Date.now() > deadline)
        throw new Error(`${online}/${count} replicas linked to ${masterPort}`);
      await sleep(50);
    }
  }

  private async waitSentinelsAgree(): Promise<void> {
    // Sentinels learn of replicas from the master's INFO (every 10 s) and of each other from
    // hello messages (every 2 s): on a loaded machine 30 s was once not enough.
    const deadline = Date.now() + 60_000;
    const others = this.sentinelNodes.length - 1;
    const seen: string[] = [];
    for (;;) {
      let ok = 0;
      seen.length = 0;
      for (const s of this.sentinelNodes) {
        const info = await withClient(s.port, (c) => c.call('SENTINEL', 'MASTER', this.name))
          .then((flat) => {
            const arr = flat as string[];
            const m = new Map<string, string>();
            for (let i = 0; i + 1 < arr.length; i += 2) m.set(arr[i], arr[i + 1]);
            return m;
          })
          .catch(() => new Map<string, string>());
        seen.push(
          `:${s.port} replicas ${info.get('num-slaves') ?? '?'}, other sentinels ${info.get('num-other-sentinels') ?? '?'}`,
        );
        if (
          Number(info.get('num-slaves') ?? 0) >= this.opts.replicas &&
          Number(info.get('num-other-sentinels') ?? 0) >= others
        )
          ok++;
      }
      if (ok === this.sentinelNodes.length) return;
      if (Date.now() > deadline)
        throw new Error(
          `Sentinels did not discover each other and ${this.opts.replicas} replica(s) in 60 s (${seen.join('; ')})`,
        );
      await sleep(200);
    }
  }
}
