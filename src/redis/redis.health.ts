import { Injectable } from '@nestjs/common';
import { ReadinessRegistry } from '../observability/health/readiness.registry';
import { RedisService } from './redis.service';

/** Reports Redis to `/health/ready`. */
@Injectable()
export class RedisHealthIndicator {
  constructor(redis: RedisService, readiness: ReadinessRegistry) {
    readiness.register('redis', async () => {
      const latencyMs = await redis.ping();
      return { status: 'up', latencyMs: Math.round(latencyMs * 100) / 100 };
    });
  }
}
