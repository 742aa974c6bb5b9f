import { z } from 'zod';
import { bool, type ConfigProblem, defineSection, field, int, list } from '../config-field.util';

/** One Sentinel: `host:port`, `host` (port 26379) or `[ipv6]:port`. */
export interface SentinelAddress {
  host: string;
  port: number;
}

const SENTINEL_PORT = 26379;

/** Parses one `host:port` entry; undefined when it is not one. */
export function parseSentinelAddress(entry: string): SentinelAddress | undefined {
  const m =
    /^\[([0-9a-fA-F:.%\w]+)\](?::(\d{1,5}))?$/.exec(entry) ?? // [ipv6]:port
    /^([A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(entry); // host:port / ipv4:port
  if (!m) return undefined;
  const port = m[2] === undefined ? SENTINEL_PORT : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

const sentinelList = () =>
  list().transform((entries, ctx) => {
    const out: SentinelAddress[] = [];
    for (const entry of entries) {
      const addr = parseSentinelAddress(entry);
      if (addr) out.push(addr);
      else {
        ctx.addIssue({
          code: 'custom',
          message: `'${entry}' is not host:port (IPv6 as [addr]:port)`,
        });
      }
    }
    return out;
  });

export const redisSection = defineSection(
  'redis',
  'Redis',
  {
    url: field(
      'REDIS_URL',
      z.string().url().default('redis://127.0.0.1:6379'),
      'Redis connection URL (with REDIS_SENTINELS only its credentials, db and rediss:// are used)',
    ),
    keyPrefix: field(
      'REDIS_KEY_PREFIX',
      z.string().min(1).default('sy:'),
      'Prefix of every key Switchyard writes (lets several installs share one Redis)',
    ),
    commandTimeoutMs: field(
      'REDIS_COMMAND_TIMEOUT_MS',
      int(1).default(2000),
      'A Redis command that takes longer fails (the API answers 503)',
    ),
    allowEviction: field(
      'REDIS_ALLOW_EVICTION',
      bool().default(false),
      'Start even if Redis maxmemory-policy is not noeviction (queue data may be lost)',
    ),
    sentinels: field(
      'REDIS_SENTINELS',
      sentinelList().default([]),
      'Redis Sentinels (comma-separated host:port, IPv6 as [addr]:port): every connection asks them for the master and follows a failover',
      { example: '' },
    ),
    sentinelName: field(
      'REDIS_SENTINEL_NAME',
      z.string().min(1).optional(),
      'Name of the master the Sentinels monitor (required with REDIS_SENTINELS)',
      { example: 'mymaster' },
    ),
    sentinelPassword: field(
      'REDIS_SENTINEL_PASSWORD',
      z.string().min(1).optional(),
      'Password of the Sentinels themselves (requirepass of sentinel.conf); the data nodes use the one in REDIS_URL',
      { secret: true },
    ),
    sentinelTls: field(
      'REDIS_SENTINEL_TLS',
      bool().default(false),
      'Connect to the Sentinels over TLS',
    ),
    minReplicasAck: field(
      'REDIS_MIN_REPLICAS_ACK',
      int(0, 16).optional(),
      'Replicas that must confirm (WAIT) a submission, an outcome and a fencing token before it is acknowledged; default 1 with REDIS_SENTINELS, else 0 (off)',
      { example: '' },
    ),
    waitTimeoutMs: field(
      'REDIS_WAIT_TIMEOUT_MS',
      int(1).default(1000),
      'How long a write waits for REDIS_MIN_REPLICAS_ACK replicas before the API answers 503 (below REDIS_COMMAND_TIMEOUT_MS)',
    ),
  },
  undefined,
  (v) => {
    const problems: ConfigProblem[] = [];
    if (v.sentinels.length > 0 && !v.sentinelName) {
      problems.push({
        env: 'REDIS_SENTINEL_NAME',
        message: 'is required when REDIS_SENTINELS is set (the master name of sentinel.conf)',
      });
    }
    if (v.waitTimeoutMs >= v.commandTimeoutMs && minReplicasAck(v) > 0) {
      problems.push({
        env: 'REDIS_WAIT_TIMEOUT_MS',
        message: `must be below REDIS_COMMAND_TIMEOUT_MS (${v.commandTimeoutMs}): WAIT blocks its connection that long`,
      });
    }
    return problems;
  },
);

/** REDIS_MIN_REPLICAS_ACK with its default: 1 when Sentinels are configured, else 0. */
export function minReplicasAck(v: {
  sentinels: SentinelAddress[];
  minReplicasAck?: number;
}): number {
  return v.minReplicasAck ?? (v.sentinels.length > 0 ? 1 : 0);
}
