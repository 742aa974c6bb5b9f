import { Module } from '@nestjs/common';
import { DiscoveryModule } from '../discovery/discovery.module';
import { QueueModule } from '../queue/queue.module';
import { ResilienceModule } from '../resilience/resilience.module';
import { StateModule } from '../state/state.module';
import { OrchestratorService } from './orchestrator.service';
import { TaskProgressConsumer } from './task-progress.consumer';
import { TaskProgressController } from './task-progress.controller';
import { TaskProgressStore } from './task-progress.store';
import { WorkflowArchiverService } from './workflow-archiver.service';

@Module({
  imports: [QueueModule, DiscoveryModule, ResilienceModule, StateModule],
  controllers: [TaskProgressController],
  // Live transcripts: workers' progress batches → the task's last steps + task.progress events.
  providers: [
    OrchestratorService,
    WorkflowArchiverService,
    TaskProgressStore,
    TaskProgressConsumer,
  ],
  exports: [OrchestratorService],
})
export class OrchestratorModule {}
