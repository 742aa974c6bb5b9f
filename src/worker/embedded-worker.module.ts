import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '../discovery/discovery.module';
import { ParkedTasksStore } from '../mcp/parked-tasks.store';
import { WORKER_AGENTS_DIR } from './worker-agents.token';
import { WorkerService } from './worker.service';

/**
 * Hosts agents inside the control-plane process (single-process mode: `serve --agents DIR`,
 * the demo without RabbitMQ). Same WorkerService as the worker process, sharing the app's bus.
 */
@Module({})
export class EmbeddedWorkerModule {
  static forAgents(agentsDir: string): DynamicModule {
    return {
      module: EmbeddedWorkerModule,
      imports: [DiscoveryModule],
      providers: [
        WorkerService,
        ParkedTasksStore,
        { provide: WORKER_AGENTS_DIR, useValue: agentsDir },
      ],
      exports: [WorkerService],
    };
  }
}
