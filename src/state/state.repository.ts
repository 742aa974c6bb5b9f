import { Injectable } from '@nestjs/common';
import type { ChainableCommander } from 'ioredis';
import type { LockHandle, PipelinedRead } from './lock/lock-handle';
import { RedisService } from '../redis/redis.service';
import type { StateDocument } from './state-document.type';
import { stateCommands, type StateRedisCommands } from './state-redis-commands';

/** What a fenced write attempt came to (see `commands/state-write-4.lua`). */
export type WriteOutcome =
  | { status: 'ok'; version: number }
  | { status: 'fence'; newerFence: number }
  | { status: 'version'; currentVersion: number }
  | { status: 'missing'; currentVersion: number };

export interface WriteRequest {
  key: string;
  /** Undefined: any version; 0: must not exist. */
  expectedVersion?: number;
  fence: number;
  value?: unknown;
  updatedBy: string;
  delete?: boolean;
  /** ISO 8601; default now. */
  updatedAt?: string;
}

/**
 * Documents in Redis: a hash per key, an index of live keys for listing, and the set of keys
 * whose current version has not reached the durable store yet. Every mutation is one Lua script.
 */
@Injectable()
export class StateRepository {
  private readonly lua: StateRedisCommands;

  constructor(private readonly redis: RedisService) {
    this.lua = stateCommands(redis.client);
  }

  docKey = (key: string): string => this.redis.key('state', 'doc', key);
  fenceKey = (key: string): string => this.redis.key('state', 'fence', key);
  lockKey = (key: string): string => this.redis.key('state', 'lock', key);
  private readonly indexKey = (): string => this.redis.key('state', 'index');
  private readonly pendingKey = (): string => this.redis.key('state', 'pending');

  /** The document including tombstones, or undefined when Redis has never seen the key. */
  async read(key: string): Promise<StateDocument | undefined> {
    return parseDocument(key, await this.redis.client.hgetall(this.docKey(key)));
  }

  /** The same read, queued on a pipeline (e.g. with the lock acquisition). */
  pipelinedRead(key: string): PipelinedRead<StateDocument | undefined> {
    return {
      queue: (pipeline) => void pipeline.hgetall(this.docKey(key)),
      parse: (reply) => parseDocument(key, reply as Record<string, string>),
    };
  }

  async write(req: WriteRequest): Promise<WriteOutcome> {
    const [status, n] = await this.lua.stateWrite(...this.writeArgs(req));
    return outcomeOf(status, n);
  }

  /** Writes and releases the lock in one round trip (the release runs whatever the outcome). */
  async writeAndRelease(req: WriteRequest, lock: LockHandle): Promise<WriteOutcome> {
    const pipeline = this.redis.client.pipeline();
    (
      pipeline as unknown as { stateWrite(...args: (string | number)[]): ChainableCommander }
    ).stateWrite(...this.writeArgs(req));
    lock.releaseIn(pipeline);
    const results = (await pipeline.exec()) ?? [];
    const [err, reply] = results[0] ?? [new Error('empty pipeline reply'), undefined];
    if (err) throw err;
    const [status, n] = reply as [string, number];
    return outcomeOf(status, n);
  }

  private writeArgs(req: WriteRequest): Parameters<StateRedisCommands['stateWrite']> {
    return [
      this.docKey(req.key),
      this.fenceKey(req.key),
      this.indexKey(),
      this.pendingKey(),
      req.key,
      req.expectedVersion === undefined ? '' : String(req.expectedVersion),
      req.fence,
      req.delete ? '' : JSON.stringify(req.value),
      req.updatedAt ?? new Date().toISOString(),
      req.updatedBy,
      req.delete ? '1' : '0',
      Date.now(),
    ];
  }

  /** Loads a document from the durable store if it is newer than Redis's; true when loaded. */
  async load(doc: StateDocument): Promise<boolean> {
    const loaded = await this.lua.stateLoad(
      this.docKey(doc.key),
      this.fenceKey(doc.key),
      this.indexKey(),
      doc.key,
      doc.version,
      doc.deleted ? '' : JSON.stringify(doc.value),
      doc.updatedAt,
      doc.updatedBy,
      doc.fence,
      doc.deleted ? '1' : '0',
    );
    return loaded === 1;
  }

  /** Marks `version` of `key` as stored durably; false when the document moved on meanwhile. */
  async markUploaded(key: string, version: number): Promise<boolean> {
    const done = await this.lua.stateUploaded(
      this.docKey(key),
      this.pendingKey(),
      key,
      version,
      Date.now(),
    );
    return done === 1;
  }

  /** Makes a key pending again (e.g. an upload failed after the write). */
  async markPending(key: string): Promise<void> {
    await this.redis.client.zadd(this.pendingKey(), 'NX', String(Date.now()), key);
  }

  async pending(limit: number): Promise<string[]> {
    return this.redis.client.zrange(this.pendingKey(), '0', String(limit - 1));
  }

  async pendingCount(): Promise<number> {
    return this.redis.client.zcard(this.pendingKey());
  }

  /** Live keys starting with `prefix`, in order, after `after` (exclusive). */
  async listKeys(prefix: string, after: string | undefined, limit: number): Promise<string[]> {
    const min = after !== undefined && after >= prefix ? `(${after}` : `[${prefix}`;
    // \xff sorts after every character a key may contain.
    const max = `[${prefix}\xff`;
    return this.redis.client.zrangebylex(this.indexKey(), min, max, 'LIMIT', 0, limit);
  }

  async countKeys(): Promise<number> {
    return this.redis.client.zcard(this.indexKey());
  }
}

function parseDocument(key: string, h: Record<string, string>): StateDocument | undefined {
  if (h.version === undefined) return undefined;
  const deleted = h.deleted === '1';
  return {
    key,
    version: Number(h.version),
    value: deleted || !h.value ? null : (JSON.parse(h.value) as unknown),
    updatedAt: h.updatedAt ?? '',
    updatedBy: h.updatedBy ?? '',
    fence: Number(h.fence ?? 0),
    deleted,
  };
}

function outcomeOf(status: string, n: number): WriteOutcome {
  const value = Number(n);
  switch (status) {
    case 'ok':
      return { status, version: value };
    case 'fence':
      return { status, newerFence: value };
    case 'version':
      return { status, currentVersion: value };
    case 'missing':
      return { status, currentVersion: value };
    default:
      throw new Error(`state-write returned '${status}'`);
  }
}
