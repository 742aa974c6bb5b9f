import { Module } from '@nestjs/common';
import { DiscoveryModule } from '../discovery/discovery.module';
import { QueueModule } from '../queue/queue.module';
import { ResilienceModule } from '../resilience/resilience.module';
import { StateModule } from '../state/state.module';
import { OrchestratorService } from './orchestrator.service';
import { WorkflowArchiverService } from './workflow-archiver.service';

@Module({
  imports: [QueueModule, DiscoveryModule, ResilienceModule, StateModule],
  providers: [OrchestratorService, WorkflowArchiverService],
  exports: [OrchestratorService],
})
export class OrchestratorModule {}
