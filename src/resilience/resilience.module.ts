import { Module } from '@nestjs/common';
import { BreakerRegistry } from './breaker-registry.service';
import { CircuitBreakersController } from './circuit-breakers.controller';

/**
 * Per-agent circuit breakers and the fallback rule (see docs/CIRCUIT-BREAKER.md). The retry
 * policy lives in `retry-policy.ts`. `MessageBus` is injected when a global bus module provides
 * it; without it breaker state is shared through Redis only.
 */
@Module({
  controllers: [CircuitBreakersController],
  providers: [BreakerRegistry],
  exports: [BreakerRegistry],
})
export class ResilienceModule {}
