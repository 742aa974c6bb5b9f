import type Redis from 'ioredis';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';

/**
 * The write was applied on the Redis master but fewer than REDIS_MIN_REPLICAS_ACK replicas
 * confirmed it within REDIS_WAIT_TIMEOUT_MS. Answered as 503: the caller cannot know whether it
 * survives a failover, and retrying with the same idempotency key is safe (see
 * docs/HIGH-AVAILABILITY.md, "What a 503 after WAIT means").
 */
export class ReplicationTimeoutError extends AppException {
  constructor(
    what: string,
    readonly required: number,
    readonly acked: number,
    readonly timeoutMs: number,
    extra: Record<string, unknown> = {},
  ) {
    super(
      ErrorCode.DependencyUnavailable,
      `${what} was applied on the Redis master but only ${acked} of ${required} required ` +
        `replica(s) confirmed it within ${timeoutMs} ms; it may not survive a failover. ` +
        'Retry with the same idempotency key: a retry returns the same record once it is confirmed.',
      {
        dependency: 'redis',
        reason: 'replication_timeout',
        replicasRequired: required,
        replicasAcked: acked,
        timeoutMs,
        ...extra,
      },
    );
    this.name = 'ReplicationTimeoutError';
  }
}

/**
 * `WAIT n timeout` after a write: the write is acknowledged only once n replicas have it, so a
 * failover (which promotes a replica) cannot lose it. With n = 0 it costs nothing (no command).
 *
 * WAIT covers every write made before it *on the same connection*, so it must be sent on the
 * connection the write went through. `barrierKey` is for a caller that wrote nothing itself
 * (an idempotent replay that found the earlier record, a duplicate outcome): a tiny write first
 * makes WAIT cover everything the master had at that moment, including a record written through
 * another connection or another process.
 */
export class ReplicaAck {
  constructor(
    readonly replicas: number,
    readonly timeoutMs: number,
  ) {}

  get enabled(): boolean {
    return this.replicas > 0;
  }

  /** Throws {@link ReplicationTimeoutError} when fewer than `replicas` confirm in time. */
  async confirm(
    conn: Redis,
    what: string,
    opts: { barrierKey?: string; details?: Record<string, unknown> } = {},
  ): Promise<void> {
    if (this.replicas === 0) return;
    let acked: number;
    if (opts.barrierKey) {
      const rows =
        (await conn
          .pipeline()
          .set(opts.barrierKey, String(Date.now()), 'PX', 60_000)
          .wait(this.replicas, this.timeoutMs)
          .exec()) ?? [];
      for (const [err] of rows) if (err) throw err;
      acked = Number(rows[1]?.[1] ?? 0);
    } else {
      acked = await conn.wait(this.replicas, this.timeoutMs);
    }
    if (acked < this.replicas) {
      throw new ReplicationTimeoutError(what, this.replicas, acked, this.timeoutMs, opts.details);
    }
  }
}

/** Awaits both (an effect and its WAIT); rethrows a WAIT timeout first, then the other error. */
export async function settleBoth(
  work: Promise<unknown>,
  wait: Promise<unknown> | undefined,
): Promise<void> {
  const [w, r] = await Promise.allSettled([work, wait]);
  if (r.status === 'rejected') throw r.reason;
  if (w.status === 'rejected') throw w.reason;
}
