import { Module } from '@nestjs/common';
import { DiscoveryModule } from '../discovery/discovery.module';
import { BreakerPeers } from './breaker-peers';
import { BreakerRegistry } from './breaker-registry.service';
import { BreakerSync } from './breaker-sync.service';
import { CircuitBreakersController } from './circuit-breakers.controller';

/**
 * Per-agent circuit breakers and the fallback rule (see docs/CIRCUIT-BREAKER.md). The retry
 * policy lives in `retry-policy.ts`, the error catalogue in `task-error-catalogue.ts`. Breaker
 * state is shared with the other instances by {@link BreakerSync}, which requires the global
 * MessageBus and RedisService: without either the app does not boot.
 */
@Module({
  imports: [DiscoveryModule],
  controllers: [CircuitBreakersController],
  providers: [BreakerRegistry, BreakerSync, { provide: BreakerPeers, useExisting: BreakerSync }],
  exports: [BreakerRegistry],
})
export class ResilienceModule {}
