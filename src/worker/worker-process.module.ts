import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { BusModule } from '../bus/bus.module';
import { ConfigModule } from '../config/config.module';
import { ConfigService } from '../config/config.service';
import type { AppConfigValues } from '../config/load-config';
import { DiscoveryModule } from '../discovery/discovery.module';
import { EventsModule } from '../events/events.module';
import { loggerParams } from '../observability/logging';
import { ObservabilityModule } from '../observability/observability.module';
import { ParkedTasksStore } from '../mcp/parked-tasks.store';
import { RedisModule } from '../redis/redis.module';
import { WORKER_AGENTS_DIR } from './worker-agents.token';
import { WorkerHttpModule } from './worker-http.server';
import { WorkerService } from './worker.service';

/**
 * The agent worker process: no REST API, just the bus, the registry and the runtime, plus a small
 * probe/metrics server when WORKER_HTTP_PORT is set.
 */
@Module({})
export class WorkerProcessModule {
  static forRoot(values: AppConfigValues, agentsDir: string): DynamicModule {
    return {
      module: WorkerProcessModule,
      imports: [
        ConfigModule.forRoot({ values }),
        LoggerModule.forRootAsync({ inject: [ConfigService], useFactory: loggerParams }),
        EventsModule,
        ObservabilityModule,
        RedisModule,
        BusModule,
        DiscoveryModule,
        WorkerHttpModule,
      ],
      providers: [
        WorkerService,
        ParkedTasksStore,
        { provide: WORKER_AGENTS_DIR, useValue: agentsDir },
      ],
      exports: [WorkerService],
    };
  }
}
