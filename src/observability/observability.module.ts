import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { HealthController } from './health/health.controller';
import { ReadinessRegistry } from './health/readiness.registry';
import { HumanActionInterceptor } from './human-actions/human-action.interceptor';
import { HumanActionsService } from './human-actions/human-actions.service';
import { HttpTraceInterceptor } from './http-trace.interceptor';
import { MetricsService } from './metrics.service';
import { ObservabilityRepository } from './report/observability.repository';

@Global()
@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
  ],
  controllers: [HealthController],
  providers: [
    MetricsService,
    ReadinessRegistry,
    ObservabilityRepository,
    HumanActionsService,
    HumanActionInterceptor,
    // REST calls join (or start) a trace when tracing is on (see http-trace.interceptor.ts).
    { provide: APP_INTERCEPTOR, useClass: HttpTraceInterceptor },
  ],
  exports: [
    MetricsService,
    ReadinessRegistry,
    ObservabilityRepository,
    HumanActionsService,
    HumanActionInterceptor,
  ],
})
export class ObservabilityModule {}
