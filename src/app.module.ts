import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { AuthModule } from './auth/auth.module';
import { BusModule } from './bus/bus.module';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { ZodValidationPipe } from './common/http/zod-validation.pipe';
import { ConfigModule } from './config/config.module';
import { ConfigService } from './config/config.service';
import type { AppConfigValues } from './config/load-config';
import { DiscoveryModule } from './discovery/discovery.module';
import { EventsModule } from './events/events.module';
import { GatewayModule } from './gateway/gateway.module';
import { McpModule } from './mcp/mcp.module';
import { loggerParams } from './observability/logging';
import { OrchestratorModule } from './orchestrator/orchestrator.module';
import { ObservabilityCollectorsModule } from './observability/collectors/observability-collectors.module';
import { ObservabilityModule } from './observability/observability.module';
import { QueueModule } from './queue/queue.module';
import { RedisModule } from './redis/redis.module';
import { ResilienceModule } from './resilience/resilience.module';
import { StateModule } from './state/state.module';

/**
 * Feature modules of the control plane. Each owns one folder under src/ (see docs/architecture.md)
 * and depends only on the infrastructure modules above plus what it imports itself.
 */
const FEATURE_MODULES: Type[] = [
  QueueModule,
  BusModule,
  GatewayModule,
  ResilienceModule,
  DiscoveryModule,
  StateModule,
  OrchestratorModule,
  McpModule,
  ObservabilityCollectorsModule,
];

@Module({})
export class AppModule {
  static forRoot(
    values: AppConfigValues,
    extraModules: (Type | DynamicModule)[] = [],
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ values }),
        LoggerModule.forRootAsync({ inject: [ConfigService], useFactory: loggerParams }),
        EventsModule,
        ObservabilityModule,
        AuthModule,
        RedisModule,
        ...FEATURE_MODULES,
        ...extraModules,
      ],
      providers: [
        { provide: APP_PIPE, useClass: ZodValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
