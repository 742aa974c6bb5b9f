import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CapabilityListDto } from './discovery.dto';
import type { CapabilitySummary } from './discovery.schemas';
import { DiscoveryService } from './discovery.service';

@ApiTags('agents')
@Controller('v1/capabilities')
export class CapabilitiesController {
  constructor(private readonly discovery: DiscoveryService) {}

  @Get()
  @ApiOperation({ summary: 'Every capability with its number of live (and AVAILABLE) agents' })
  @ApiOkResponse({ type: CapabilityListDto })
  async list(): Promise<{ items: CapabilitySummary[] }> {
    return { items: await this.discovery.listCapabilities() };
  }
}
