import { join } from 'node:path';
import type Redis from 'ioredis';
import { LuaScripts } from '../redis/lua-scripts.loader';

type Reply = [string, number];

/** The Lua commands of `state/commands/*.lua`, as ioredis defines them on a client. */
export interface StateRedisCommands {
  stateLockAcquire(
    lockKey: string,
    fenceKey: string,
    token: string,
    ttlMs: number,
    maxHoldMs: number,
    failoverSafe: '0' | '1',
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

/** The scripts of `state/commands/` (each declares every key it touches in KEYS). */
export const STATE_SCRIPTS = [
  'state-lock-acquire-2',
  'state-lock-release-1',
  'state-lock-extend-1',
  'state-write-4',
  'state-load-3',
  'state-uploaded-2',
] as const;

let scripts: LuaScripts | undefined;

/**
 * Defines the state Lua commands on `client` (once per client) and returns it typed. Called from
 * the constructors of the state repository and the lock service, so a missing script stops the
 * boot with a message naming it.
 */
export function stateCommands(client: Redis): StateRedisCommands {
  scripts ??= LuaScripts.load(join(__dirname, 'commands'), STATE_SCRIPTS);
  return scripts.defineOn<StateRedisCommands>(client);
}
