import { Module } from '@nestjs/common';
import { DiscoveryModule } from '../discovery/discovery.module';
import { QueueModule } from '../queue/queue.module';
import { StateModule } from '../state/state.module';
import { McpServerFactory } from './mcp-server.factory';
import { McpToolsService } from './mcp-tools.service';
import { McpController } from './mcp.controller';
import { ParkedTasksStore } from './parked-tasks.store';

/** Switchyard as the MCP server of the agents it runs (docs/MCP.md). */
@Module({
  imports: [DiscoveryModule, QueueModule, StateModule],
  controllers: [McpController],
  providers: [McpToolsService, McpServerFactory, ParkedTasksStore],
})
export class McpModule {}
