import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';

/** A park mark outlives a crashed waiter by at most this long (it is refreshed while waiting). */
export const PARK_TTL_MS = 30_000;

/**
 * Tasks that are parked: running, but blocked in `delegate`/`wait_task` on their own
 * descendants. The control plane marks them while it waits; the worker's heartbeat does not
 * count a parked task against its agent's load, so the registry keeps a slot free for the
 * children (see docs/MCP.md, "No pool deadlock"). One counter per task (parallel waits nest).
 */
@Injectable()
export class ParkedTasksStore {
  constructor(private readonly redis: RedisService) {}

  private key(taskId: string): string {
    return this.redis.key('parked', taskId);
  }

  /** Marks the task parked; true when it was not parked before (its first concurrent wait). */
  async park(taskId: string): Promise<boolean> {
    const res = await this.redis.client
      .multi()
      .incr(this.key(taskId))
      .pexpire(this.key(taskId), PARK_TTL_MS)
      .exec();
    return Number(res?.[0]?.[1] ?? 0) === 1;
  }

  async refresh(taskId: string): Promise<void> {
    await this.redis.client.pexpire(this.key(taskId), PARK_TTL_MS);
  }

  async unpark(taskId: string): Promise<void> {
    const left = await this.redis.client.decr(this.key(taskId));
    if (left <= 0) await this.redis.client.del(this.key(taskId));
  }

  /** Which of these tasks are parked now (one round trip). */
  async parked(taskIds: readonly string[]): Promise<Set<string>> {
    if (taskIds.length === 0) return new Set();
    const values = await this.redis.client.mget(...taskIds.map((id) => this.key(id)));
    return new Set(taskIds.filter((_, i) => Number(values[i] ?? 0) > 0));
  }
}
