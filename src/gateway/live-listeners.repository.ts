import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';

/**
 * Which control-plane instances have live-feed clients now: one sorted set, member = instance id,
 * score = when its entry expires (ms). An instance with clients keeps its entry fresh; one that
 * dies without removing it drops out when the score passes. The live fan-out reads it to publish
 * events on the bus only while another instance has someone to show them to.
 */
@Injectable()
export class LiveListenersRepository {
  private readonly key: string;

  constructor(private readonly redis: RedisService) {
    this.key = redis.key('live', 'listeners');
  }

  /** This instance has clients until `expiresAt` (ms) unless it says otherwise. */
  async announce(instanceId: string, expiresAt: number, now = Date.now()): Promise<void> {
    // Entries of instances that died without withdrawing go too.
    await this.redis.client
      .multi()
      .zremrangebyscore(this.key, '-inf', `(${now}`)
      .zadd(this.key, expiresAt, instanceId)
      .exec();
  }

  /** This instance has no clients any more. */
  async withdraw(instanceId: string): Promise<void> {
    await this.redis.client.zrem(this.key, instanceId);
  }

  /** Does an instance other than `instanceId` have clients at `now`? */
  async othersListening(instanceId: string, now = Date.now()): Promise<boolean> {
    // At most two live entries are needed to know whether one is not ours.
    const live = await this.redis.client.zrangebyscore(this.key, now, '+inf', 'LIMIT', 0, 2);
    return live.some((id) => id !== instanceId);
  }
}
