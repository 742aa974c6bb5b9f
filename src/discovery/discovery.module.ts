import { Module } from '@nestjs/common';
import { AgentRegistryRepository } from './agent-registry.repository';
import { AgentsController } from './agents.controller';
import { CapabilitiesController } from './capabilities.controller';
import { DiscoverySweeper } from './discovery-sweeper.service';
import { DiscoveryService } from './discovery.service';
import { StaticAgentsRegistrar } from './static-agents.registrar';

/** Agent registry in Redis (see docs/AGENT-DISCOVERY.md). Uses the global Redis/Events modules. */
@Module({
  controllers: [AgentsController, CapabilitiesController],
  providers: [AgentRegistryRepository, DiscoveryService, DiscoverySweeper, StaticAgentsRegistrar],
  exports: [DiscoveryService],
})
export class DiscoveryModule {}
