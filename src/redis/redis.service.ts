import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis, { type RedisOptions } from 'ioredis';
import { ConfigService } from '../config/config.service';
import { LuaScripts } from './lua-scripts.loader';
import { describeTarget, replicasToAck, targetOptions } from './redis-connection-options';
import { ReplicaAck } from './replica-ack';

/**
 * The Redis adapter: every module reaches Redis through this class. It owns the shared command
 * connection, hands out dedicated connections (blocking commands, BullMQ, subscribers), prefixes
 * keys and loads Lua scripts from `*.lua` files. With REDIS_SENTINELS every connection it makes
 * asks the Sentinels for the master and follows a failover (see redis-connection-options.ts).
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  readonly client: Redis;
  readonly prefix: string;
  private readonly extra = new Set<Redis>();
  /** WAIT after acknowledged writes (REDIS_MIN_REPLICAS_ACK; a no-op when 0). */
  readonly replicaAck: ReplicaAck;
  /** Sentinel mode: fencing tokens must survive a failover (see DistributedLockService). */
  readonly sentinel: boolean;
  private shuttingDown = false;

  constructor(private readonly config: ConfigService) {
    this.prefix = config.redis.keyPrefix;
    this.replicaAck = new ReplicaAck(replicasToAck(config.redis), config.redis.waitTimeoutMs);
    this.sentinel = config.redis.sentinels.length > 0;
    // Lazy: constructing the module graph (e.g. to render OpenAPI) must not touch the network.
    this.client = this.createConnection({ name: 'switchyard', lazyConnect: true });
    this.client.on('error', (err: Error) => this.logger.warn(`redis: ${err.message}`));
  }

  async onModuleInit(): Promise<void> {
    // Connecting may fail while Redis is down; ioredis keeps retrying and the API answers 503.
    this.client
      .connect()
      .catch((e: Error) => this.logger.warn(`redis not reachable yet: ${e.message}`));
    await this.waitReady(5000).catch((e: Error) => this.logger.warn(e.message));
  }

  /** Options for a new connection: fail fast while Redis is down instead of queueing forever. */
  connectionOptions(overrides: RedisOptions = {}): RedisOptions {
    return {
      maxRetriesPerRequest: 1,
      commandTimeout: this.config.redis.commandTimeoutMs,
      enableOfflineQueue: true,
      connectTimeout: 5000,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      lazyConnect: false,
      ...overrides,
    };
  }

  /** A new connection owned by this service (closed on shutdown). */
  createConnection(overrides: RedisOptions & { name?: string } = {}): Redis {
    const { name, ...rest } = overrides;
    const target = targetOptions(this.config.redis);
    const options = this.connectionOptions({ ...target.options, connectionName: name, ...rest });
    const conn = target.url ? new Redis(target.url, options) : new Redis(options);
    // Errors surface on commands (and as 503s); an unhandled 'error' event must not crash the process.
    conn.on('error', () => undefined);
    if (this.sentinel) {
      closeFailoverDetectorOnEnd(conn);
      reconnectAfterUnplannedEnd(conn, () => this.shuttingDown, this.logger);
    }
    this.extra.add(conn);
    return conn;
  }

  /** Full key with the install's prefix: `key('agent', id)` → `sy:agent:<id>`. */
  key(...parts: (string | number)[]): string {
    return this.prefix + parts.join(':');
  }

  /** Resolves when the shared connection is ready (used at boot); rejects after `timeoutMs`. */
  async waitReady(timeoutMs = 5000): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `Redis (${describeTarget(this.config.redis)}) did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
      };
      this.client.on('ready', onReady);
    });
  }

  async ping(): Promise<number> {
    const t0 = process.hrtime.bigint();
    await this.client.ping();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.all(
      [...this.extra].map(async (c) => {
        try {
          await c.quit();
        } catch {
          c.disconnect();
        }
      }),
    );
    this.extra.clear();
  }
}

/** ioredis' private part that holds the Sentinel subscriptions of `failoverDetector`. */
interface WithFailoverDetector {
  connector?: { failoverDetector?: { cleanup(): void } | null };
}

/**
 * ioredis closes the `failoverDetector`'s Sentinel subscriptions only on `disconnect()`, not when
 * a connection ends by QUIT (as ours do at shutdown, and BullMQ's duplicates on close): they
 * would stay open and keep the process alive. Closing them on `end` is safe: every (re)connect
 * creates them anew. Duplicates (BullMQ's blocking clients) get the same treatment.
 */
function closeFailoverDetectorOnEnd(conn: Redis): void {
  conn.on('end', () => {
    const detector = (conn as unknown as WithFailoverDetector).connector?.failoverDetector;
    detector?.cleanup();
  });
  const duplicate = conn.duplicate.bind(conn);
  conn.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    closeFailoverDetectorOnEnd(copy);
    return copy;
  };
}

/**
 * ioredis ends a Sentinel connection for good (status `end`, every later command "Connection is
 * closed.") when its Sentinel connector rejects: `failoverDetector` or `reconnectOnError` drop the
 * connection while it is still asking the Sentinels for the master, the resolution sees
 * `connecting` turned false and throws, and ioredis does not retry that. Seen in test:ha at load
 * ~15: a worker's every heartbeat failed with "Connection is closed." for minutes, its agents
 * expired, their tasks stayed unfinished. Unless the connection was closed on purpose (quit,
 * disconnect() without reconnect, shutdown), connect again; duplicates get the same treatment
 * (BullMQ re-arms its blocking clients too: a second connect() is refused and ignored).
 */
export function reconnectAfterUnplannedEnd(
  conn: Redis,
  shuttingDown: () => boolean,
  logger: Pick<Logger, 'warn'>,
): void {
  let onPurpose = false;
  const quit = conn.quit.bind(conn) as (...a: unknown[]) => Promise<'OK'>;
  const disconnect = conn.disconnect.bind(conn);
  (conn as unknown as { quit: (...a: unknown[]) => Promise<'OK'> }).quit = (...a) => {
    onPurpose = true;
    return quit(...a);
  };
  conn.disconnect = (reconnect?: boolean) => {
    if (!reconnect) onPurpose = true;
    disconnect(reconnect);
  };
  const connect = conn.connect.bind(conn);
  conn.connect = (...a: Parameters<Redis['connect']>) => {
    onPurpose = false;
    return connect(...a);
  };
  conn.on('end', () => {
    if (onPurpose || shuttingDown()) return;
    logger.warn(
      `redis: connection ${conn.options.connectionName ?? ''} ended without being closed (a Sentinel resolution was interrupted); connecting again`,
    );
    setTimeout(() => {
      if (!onPurpose && !shuttingDown() && conn.status === 'end')
        conn.connect().catch(() => undefined);
    }, 100).unref();
  });
  const duplicate = conn.duplicate.bind(conn);
  conn.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    reconnectAfterUnplannedEnd(copy, shuttingDown, logger);
    return copy;
  };
}

/**
 * Defines every `<name>-<numberOfKeys>.lua` file of `dir` as a command on `client`. Returns the
 * names defined. Kept for the queue module; new code declares its scripts with {@link LuaScripts}.
 */
export function defineLuaCommands(client: Redis, dir: string): string[] {
  const scripts = LuaScripts.loadAll(dir);
  scripts.defineOn(client);
  return scripts.commands;
}
