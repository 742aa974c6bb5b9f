import { Module } from '@nestjs/common';
import { DiscoveryModule } from '../../discovery/discovery.module';
import { QueueModule } from '../../queue/queue.module';
import { ClusterMetricsCollector } from './cluster-metrics.collector';

/**
 * The collectors that read the shared state through other modules' services. Separate from the
 * global ObservabilityModule, which every module imports and which must not import them back.
 * The bus and the readiness registry come from their global modules.
 */
@Module({
  imports: [QueueModule, DiscoveryModule],
  providers: [ClusterMetricsCollector],
  exports: [ClusterMetricsCollector],
})
export class ObservabilityCollectorsModule {}
