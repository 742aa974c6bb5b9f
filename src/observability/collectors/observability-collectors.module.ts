import { Module } from '@nestjs/common';
import { DiscoveryModule } from '../../discovery/discovery.module';
import { QueueModule } from '../../queue/queue.module';
import { AvailabilityRecorder } from '../report/availability-recorder.service';
import { ReportController } from '../report/report.controller';
import { ReportService } from '../report/report.service';
import { ClusterMetricsCollector } from './cluster-metrics.collector';

/**
 * The collectors that read the shared state through other modules' services. Separate from the
 * global ObservabilityModule, which every module imports and which must not import them back.
 * The bus and the readiness registry come from their global modules. Also the plan's report
 * (`GET /v1/report`) and the availability samples it needs.
 */
@Module({
  imports: [QueueModule, DiscoveryModule],
  controllers: [ReportController],
  providers: [ClusterMetricsCollector, ReportService, AvailabilityRecorder],
  exports: [ClusterMetricsCollector, ReportService, AvailabilityRecorder],
})
export class ObservabilityCollectorsModule {}
