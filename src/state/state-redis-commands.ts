import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { defineLuaCommands } from '../redis/redis.service';

type Reply = [string, number];

/** The Lua commands of `state/commands/*.lua`, as ioredis defines them on a client. */
export interface StateRedisCommands {
  stateLockAcquire(
    lockKey: string,
    fenceKey: string,
    token: string,
    ttlMs: number,
    maxHoldMs: number,
  ): Promise<[number, string | number]>;
  stateLockRelease(lockKey: string, token: string): Promise<number>;
  stateLockExtend(
    lockKey: string,
    token: string,
    ttlMs: number,
    maxHoldMs: number,
  ): Promise<number>;
  stateWrite(
    docKey: string,
    fenceKey: string,
    indexKey: string,
    pendingKey: string,
    key: string,
    expectedVersion: string,
    fence: number,
    valueJson: string,
    updatedAt: string,
    updatedBy: string,
    deleted: '0' | '1',
    nowMs: number,
  ): Promise<Reply>;
  stateLoad(
    docKey: string,
    fenceKey: string,
    indexKey: string,
    key: string,
    version: number,
    valueJson: string,
    updatedAt: string,
    updatedBy: string,
    fence: number,
    deleted: '0' | '1',
  ): Promise<number>;
  stateUploaded(
    docKey: string,
    pendingKey: string,
    key: string,
    version: number,
    nowMs: number,
  ): Promise<number>;
}

const loaded = new WeakSet<Redis>();

/**
 * Defines the state Lua commands on `client` (once per client) and returns it typed. The `.lua`
 * files are not copied by tsc, so a build in `dist/` reads them from `src/`.
 */
export function stateCommands(client: Redis): StateRedisCommands {
  if (!loaded.has(client)) {
    const dir = [
      join(__dirname, 'commands'),
      join(__dirname, '..', '..', '..', 'src', 'state', 'commands'),
    ].find((d) => existsSync(join(d, 'state-write-4.lua')));
    if (!dir) throw new Error(`state Lua scripts not found next to ${__dirname}`);
    defineLuaCommands(client, dir);
    loaded.add(client);
  }
  return client as unknown as StateRedisCommands;
}
