import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { AppException } from '../../common/errors/app.exception';
import type { BusOptions } from '../bus-options';
import type { BusState } from '../message-bus';
import { backoff, busClosedError, closedHandles, QueueTypeMismatchError } from './amqp.util';

/** What the other parts of the transport do when the connection comes and goes. */
export interface ConnectionHooks {
  /** Declares the shared exchanges and queues on a fresh publisher channel. */
  declareShared(ch: Channel): Promise<void>;
  /** The broker returned a mandatory message (no queue bound for its routing key). */
  onReturn(msg: ConsumeMessage): void;
  /** A new connection is up: re-attach consumers before `connected` is announced. */
  onConnected(): Promise<void>;
  /** The connection is gone, and every channel with it. */
  onLost(): void;
}

/**
 * Connection management of the RabbitMQ transport, on bare amqplib: one connection (`noDelay`),
 * one confirm channel for publishing and one channel for declarations. On connection loss it
 * reconnects with backoff and runs the hooks (topology, consumers) before announcing
 * `connected`; a publisher channel that dies on a live connection is reopened by itself.
 *
 * With several nodes (AMQP_URLS) it tries them in order, starting after the node it last lost:
 * a node that goes away is not retried first, and the backoff only grows once every node has
 * been tried. A queue declared with other arguments (QueueTypeMismatchError) stops the loop: no
 * node can fix it, the operator must (docs/HIGH-AVAILABILITY.md).
 */
export class AmqpConnectionManager {
  private readonly logger = new Logger('RabbitMqConnection');
  private currentState: BusState = 'connecting';
  private conn?: ChannelModel;
  private pubCh?: ConfirmChannel;
  private topoCh?: Promise<Channel>;
  private loop?: Promise<void>;
  private loopWake?: () => void;
  private readonly stateListeners = new Set<() => void>();
  private closed = false;
  private fatal?: Error;
  private readonly urls: string[];
  /** Index in `urls` of the node to try next (and, when connected, of the live one). */
  private nodeIndex = 0;
  private liveNode?: string;
  private corked = false;
  private publisherRenewedAt = 0;
  private writesThisTurn = 0;

  constructor(
    private readonly options: BusOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.urls = options.amqpUrls?.length ? [...options.amqpUrls] : [options.amqpUrl];
  }

  /** `host:port` of the node this process is connected to (no credentials), if connected. */
  get connectedNode(): string | undefined {
    return this.conn ? this.liveNode : undefined;
  }

  /** How many nodes the transport may connect to. */
  get nodeCount(): number {
    return this.urls.length;
  }

  get state(): BusState {
    return this.currentState;
  }

  /** The live connection, if any. */
  get connection(): ChannelModel | undefined {
    return this.conn;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The publisher channel when connected (the no-await fast path of a publish). */
  get readyPublisher(): ConfirmChannel | undefined {
    return this.pubCh && this.currentState === 'connected' ? this.pubCh : undefined;
  }

  /**
   * Retires publisher channel `ch` (a fresh one is opened on the same connection, see
   * openPublisher): after a RabbitMQ node loss a channel can keep nacking every publish to a
   * quorum queue whose leader moved, while a new channel publishes to it fine. At most once per
   * `minIntervalMs`, and only if `ch` is still the current publisher.
   */
  renewPublisher(ch: ConfirmChannel, minIntervalMs = 1000): boolean {
    if (this.pubCh !== ch || this.closed) return false;
    const now = Date.now();
    if (now - this.publisherRenewedAt < minIntervalMs) return false;
    this.publisherRenewedAt = now;
    this.logger.warn('RabbitMQ nacked a publish: reopening the publisher channel');
    // The close handler opens the next channel; unconfirmed publishes on this one are retried.
    void ch.close().catch(() => undefined);
    return true;
  }

  /** Starts the (re)connect loop unless it runs already. */
  start(): void {
    if (this.loop || this.closed || this.fatal) return;
    this.loop = this.connectLoop().finally(() => {
      this.loop = undefined;
    });
  }

  /** Resolves when connected with a publisher channel; rejects (503) at `deadline`. */
  async waitConnected(deadline: number): Promise<ConfirmChannel> {
    for (;;) {
      if (this.closed) throw busClosedError();
      if (this.fatal) throw this.fatal;
      if (this.pubCh && this.currentState === 'connected') return this.pubCh;
      this.start();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw AppException.unavailable(
          'rabbitmq',
          `RabbitMQ is unavailable: not connected within ${this.options.publishTimeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.stateListeners.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 2_147_483_647));
        this.stateListeners.add(done);
      });
    }
  }

  /** A channel for declarations: a precondition failure closes it, not the publisher channel. */
  async topologyChannel(): Promise<Channel> {
    const conn = this.conn;
    if (!conn) throw AppException.unavailable('rabbitmq', 'RabbitMQ is not connected');
    if (!this.topoCh) {
      const p = conn.createChannel().then((ch) => {
        ch.on('error', (err: Error) => this.logger.warn(`topology channel: ${err.message}`));
        ch.on('close', () => {
          if (this.topoCh === p) this.topoCh = undefined;
        });
        return ch;
      });
      p.catch(() => {
        if (this.topoCh === p) this.topoCh = undefined;
      });
      this.topoCh = p;
    }
    return this.topoCh;
  }

  /**
   * Coalesces a burst of publishes (or acks) into few socket writes: amqplib writes every frame
   * on its own (one syscall and, with noDelay, one TCP segment each). A lone write (a request, a
   * response) goes out at once — corking it costs up to a millisecond of round trip under load;
   * from the second write of the same event-loop turn the socket is corked, and uncorked once
   * amqplib's writer (scheduled on setImmediate) has written the burst, so 500 publishes leave in
   * a handful of writes.
   */
  corkBurst(): void {
    if (++this.writesThisTurn === 1) {
      setImmediate(() => {
        this.writesThisTurn = 0;
      });
      return;
    }
    if (this.corked) return;
    const socket = (this.conn as unknown as { connection?: { stream?: Partial<Socket> } })
      ?.connection?.stream;
    if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return;
    this.corked = true;
    socket.cork();
    // amqplib's writer is scheduled (setImmediate) from a nextTick after the first write, so
    // uncork one immediate later, once it has written the burst.
    setImmediate(() =>
      setImmediate(() => {
        this.corked = false;
        socket.uncork?.();
      }),
    );
  }

  /** Stops reconnecting and closes the connection (and its channels). */
  async close(): Promise<void> {
    this.closed = true;
    this.loopWake?.();
    const conn = this.conn;
    this.conn = undefined;
    this.pubCh = undefined;
    this.topoCh = undefined;
    this.currentState = 'closed';
    for (const l of [...this.stateListeners]) l();
    if (conn) await conn.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  private async connectLoop(): Promise<void> {
    const n = this.urls.length;
    for (let attempt = 0; !this.closed; attempt++) {
      const index = this.nodeIndex;
      try {
        await this.establish(index);
        return;
      } catch (e) {
        if (this.closed) return;
        if (e instanceof QueueTypeMismatchError) {
          this.fatal = e;
          this.logger.error(e.message);
          this.setState('reconnecting');
          return;
        }
        this.nodeIndex = (index + 1) % n;
        if (attempt < n || attempt % (10 * n) === 0) {
          this.logger.warn(
            `RabbitMQ node ${nodeLabel(this.urls[index])} not reachable (attempt ${attempt + 1}): ${(e as Error).message}`,
          );
        }
        // The next node at once; the backoff only after a full round of failures.
        if ((attempt + 1) % n !== 0) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff(Math.floor(attempt / n)));
          this.loopWake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.loopWake = undefined;
      }
    }
  }

  private connectUrl(index: number): string {
    const url = new URL(this.urls[index]);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '15');
    return url.toString();
  }

  private async establish(index: number): Promise<void> {
    const conn = await amqp.connect(this.connectUrl(index), {
      // Without it, Nagle + delayed ACK cost ~40 ms per request/response round trip.
      noDelay: true,
      timeout: 5000,
      clientProperties: { connection_name: `switchyard ${this.options.instanceId}` },
    });
    conn.on('error', (err: Error) => this.logger.warn(`RabbitMQ connection error: ${err.message}`));
    conn.on('close', () => {
      closedHandles.add(conn);
      this.onConnectionLost(conn);
    });
    conn.on('blocked', (reason: string) =>
      this.logger.warn(`RabbitMQ blocked publishing: ${reason}`),
    );
    try {
      const pub = await this.openPublisher(conn);
      if (this.closed) throw busClosedError();
      // A close emitted in the same read as the last setup reply was ignored (not current yet).
      if (closedHandles.has(conn) || closedHandles.has(pub)) {
        throw new Error('connection closed during setup');
      }
      this.conn = conn;
      this.pubCh = pub;
      this.liveNode = nodeLabel(this.urls[index]);
      // Re-attach every live subscription before announcing the connection.
      await this.hooks.onConnected();
      if (this.conn !== conn) throw new Error('connection lost while re-attaching consumers');
      this.setState('connected');
      this.logger.log(
        this.urls.length > 1
          ? `connected to RabbitMQ node ${this.liveNode} (${index + 1} of ${this.urls.length}) as ${this.options.instanceId}`
          : `connected to RabbitMQ as ${this.options.instanceId}`,
      );
    } catch (e) {
      if (this.conn === conn) {
        this.conn = undefined;
        this.pubCh = undefined;
      }
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  private async openPublisher(conn: ChannelModel): Promise<ConfirmChannel> {
    const ch = await conn.createConfirmChannel();
    ch.on('error', (err: Error) => this.logger.warn(`publisher channel error: ${err.message}`));
    ch.on('return', (msg: ConsumeMessage) => this.hooks.onReturn(msg));
    ch.on('close', () => {
      closedHandles.add(ch);
      if (this.pubCh !== ch) return;
      this.pubCh = undefined;
      // Channel-level failure on a live connection: open a new publisher channel. Deferred, since
      // amqplib closes the channels first when the whole connection goes.
      setImmediate(() => {
        if (this.conn !== conn || this.closed) return;
        this.setState('reconnecting');
        this.openPublisher(conn)
          .then((next) => {
            if (this.conn !== conn || this.closed || closedHandles.has(next)) {
              return void next.close().catch(() => undefined);
            }
            this.pubCh = next;
            this.setState('connected');
          })
          .catch((e: Error) => {
            this.logger.warn(`reopening publisher channel failed (${e.message}); reconnecting`);
            void conn.close().catch(() => undefined);
          });
      });
    });
    await this.hooks.declareShared(ch);
    return ch;
  }

  private onConnectionLost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.pubCh = undefined;
    this.topoCh = undefined;
    this.hooks.onLost();
    if (this.closed) return;
    // Start with the next node: the one just lost is the least likely to answer.
    const lost = this.liveNode;
    if (this.urls.length > 1) this.nodeIndex = (this.nodeIndex + 1) % this.urls.length;
    this.logger.warn(
      this.urls.length > 1
        ? `RabbitMQ connection to node ${lost} lost; reconnecting to the next node`
        : 'RabbitMQ connection lost; reconnecting',
    );
    this.setState('reconnecting');
    this.start();
  }

  private setState(state: BusState): void {
    if (this.closed && state !== 'closed') return;
    this.currentState = state;
    for (const l of [...this.stateListeners]) l();
  }
}

/** `host:port` of an AMQP URL, without credentials (for logs and /health/ready). */
export function nodeLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'amqps:' ? '5671' : '5672')}`;
  } catch {
    return 'invalid-url';
  }
}
