import type { RedisOptions } from 'ioredis';
import { minReplicasAck, type SentinelAddress } from '../config/sections/redis.config';

/** The Redis settings the connection factory needs (the `redis` config section). */
export interface RedisTarget {
  url: string;
  sentinels: SentinelAddress[];
  sentinelName?: string;
  sentinelPassword?: string;
  sentinelTls: boolean;
  minReplicasAck?: number;
}

/**
 * Where a connection goes: the single Redis of REDIS_URL, or (with REDIS_SENTINELS) the master
 * the Sentinels name, re-asked on every reconnect. Kept apart from the service so the options
 * the Sentinel pitfalls call for are in one place:
 *
 * - `failoverDetector`: each connection subscribes to `+switch-master` on a Sentinel and drops
 *   its socket at once, instead of learning of the new master from a timeout or a READONLY
 *   reply (a manual `SENTINEL FAILOVER` leaves the old master up, as a replica).
 * - `reconnectOnError` on READONLY/MASTERDOWN: a write that reached a demoted master did not
 *   apply; reconnecting (through the Sentinels) and resending it is safe.
 * - `role: 'master'`: replicas are only ever read by Sentinel, never by us.
 * - BullMQ connections keep `maxRetriesPerRequest: null` and the offline queue (set by their
 *   callers) so a blocking read survives the seconds a failover takes; BullMQ >= 6 re-arms a
 *   blocking client that ioredis parked in `end` while it was resolving the master
 *   (taskforcesh/bullmq#4378, #4585) - the failover test covers that a worker keeps consuming.
 *
 * The credentials, db and TLS of REDIS_URL apply to the data nodes the Sentinels point at.
 */
export function targetOptions(t: RedisTarget): { url?: string; options: RedisOptions } {
  if (t.sentinels.length === 0) return { url: t.url, options: {} };
  const u = new URL(t.url);
  const db = Number(u.pathname.replace(/^\//, '') || 0);
  const tls = u.protocol === 'rediss:';
  return {
    options: {
      sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: t.sentinelName,
      role: 'master',
      sentinelPassword: t.sentinelPassword,
      ...(t.sentinelTls ? { sentinelTLS: {} } : {}),
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(Number.isInteger(db) && db > 0 ? { db } : {}),
      ...(tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      failoverDetector: true,
      // A few quick tries per round, then again from the first Sentinel: a failover takes seconds.
      sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1000),
      sentinelMaxConnections: 3,
      reconnectOnError: (err: Error) => (/^(READONLY|MASTERDOWN)/.test(err.message) ? 2 : false),
    },
  };
}

/** A readable name of where Redis is, for logs and errors. */
export function describeTarget(t: RedisTarget): string {
  if (t.sentinels.length === 0) return t.url;
  const list = t.sentinels
    .map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`))
    .join(',');
  return `master '${t.sentinelName}' of Sentinels ${list}`;
}

/** WAIT replicas, with the default that depends on Sentinel. */
export const replicasToAck = (t: RedisTarget): number => minReplicasAck(t);
