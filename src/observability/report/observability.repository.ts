import { Injectable } from '@nestjs/common';
import { RedisService } from '../../redis/redis.service';

/** How long the report's raw samples are kept. */
export const REPORT_RETENTION_MS = 92 * 24 * 3600 * 1000;

const minuteOf = (ms: number) => Math.floor(ms / 60_000) * 60_000;

/**
 * The only Redis access of the observability module: the samples the plan's report is built
 * from, shared by every control plane (sorted sets scored by time, so a period is one range read).
 *
 * - `obs:availability` — one member per minute in which some control plane was ready;
 * - `obs:utilization` — `<minute>:<average load ratio>` samples of the registry;
 * - `obs:human-tasks` — task ids a person acted on (score: when);
 * - `obs:breaker-open:<agent>` / `obs:recoveries` — breaker open time, then `<agent>:<openedAt>:<ms>`.
 */
@Injectable()
export class ObservabilityRepository {
  constructor(private readonly redis: RedisService) {}

  private key(...parts: string[]): string {
    return this.redis.key('obs', ...parts);
  }

  async markAvailable(now: number): Promise<void> {
    const m = minuteOf(now);
    await this.redis.client
      .multi()
      .zadd(this.key('availability'), m, String(m))
      .zremrangebyscore(this.key('availability'), '-inf', now - REPORT_RETENTION_MS)
      .exec();
  }

  async recordUtilization(now: number, average: number): Promise<void> {
    const m = minuteOf(now);
    await this.redis.client
      .multi()
      .zadd(this.key('utilization'), m, `${m}:${average.toFixed(4)}`)
      .zremrangebyscore(this.key('utilization'), '-inf', now - REPORT_RETENTION_MS)
      .exec();
  }

  async markHumanTask(taskId: string, now: number): Promise<void> {
    await this.redis.client
      .multi()
      .zadd(this.key('human-tasks'), now, taskId)
      .zremrangebyscore(this.key('human-tasks'), '-inf', now - REPORT_RETENTION_MS)
      .exec();
  }

  /** Remembers when an agent's breaker opened (the first opening of a cycle wins). */
  async breakerOpened(agentId: string, at: number): Promise<void> {
    await this.redis.client.set(this.key('breaker-open', agentId), String(at), 'NX');
  }

  /** Closes the cycle: records and returns how long the breaker was open (undefined if unknown). */
  async breakerClosed(agentId: string, at: number): Promise<number | undefined> {
    const opened = await this.redis.client.getdel(this.key('breaker-open', agentId));
    if (opened === null) return undefined;
    const ms = Math.max(0, at - Number(opened));
    await this.redis.client
      .multi()
      .zadd(this.key('recoveries'), at, `${agentId}:${opened}:${ms}`)
      .zremrangebyscore(this.key('recoveries'), '-inf', at - REPORT_RETENTION_MS)
      .exec();
    return ms;
  }

  /** Minute starts in [from, to) in which some control plane was ready; and the first sample ever. */
  async availability(from: number, to: number): Promise<{ minutes: number[]; firstEver?: number }> {
    const [members, first] = await Promise.all([
      this.redis.client.zrangebyscore(this.key('availability'), from, `(${to}`),
      this.redis.client.zrange(this.key('availability'), '0', '0'),
    ]);
    return {
      minutes: members.map(Number),
      firstEver: first[0] === undefined ? undefined : Number(first[0]),
    };
  }

  async utilization(from: number, to: number): Promise<number[]> {
    const members = await this.redis.client.zrangebyscore(this.key('utilization'), from, `(${to}`);
    return members.map((m) => Number(m.slice(m.indexOf(':') + 1)));
  }

  async recoveries(from: number, to: number): Promise<number[]> {
    const members = await this.redis.client.zrangebyscore(this.key('recoveries'), from, `(${to}`);
    return members.map((m) => Number(m.slice(m.lastIndexOf(':') + 1)));
  }

  /** Which of these task ids a person acted on. */
  async humanTouched(taskIds: string[]): Promise<Set<string>> {
    if (taskIds.length === 0) return new Set();
    const scores = await this.redis.client.zmscore(this.key('human-tasks'), ...taskIds);
    return new Set(taskIds.filter((_, i) => scores[i] !== null));
  }
}
