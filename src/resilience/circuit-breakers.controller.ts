import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { Role } from '../auth/role.enum';
import { AppException } from '../common/errors/app.exception';
import { DiscoveryService } from '../discovery/discovery.service';
import { BreakerRegistry } from './breaker-registry.service';
import {
  AgentIdParamDto,
  CircuitBreakerDetailDto,
  CircuitBreakerDto,
  CircuitBreakerListDto,
} from './circuit-breaker.dto';
import { RecordsHumanAction } from '../observability/human-actions/human-action.interceptor';

@ApiTags('circuit-breakers')
@Controller('v1/circuit-breakers')
export class CircuitBreakersController {
  constructor(
    private readonly registry: BreakerRegistry,
    private readonly discovery: DiscoveryService,
  ) {}

  /**
   * 404 unless the agent is known: this instance holds a breaker for it, or it is registered.
   * (A reset must not create a breaker — and a metrics series — for any id someone types.)
   */
  private async assertKnown(agentId: string): Promise<void> {
    if (this.registry.isTracked(agentId)) return;
    if (await this.discovery.tryGet(agentId)) return;
    throw AppException.notFound('agent', agentId);
  }

  @Get()
  @ApiOperation({ summary: 'Every per-agent circuit breaker this instance knows' })
  @ApiOkResponse({ type: CircuitBreakerListDto })
  list(): CircuitBreakerListDto {
    return { instanceId: this.registry.instanceId, items: this.registry.list() };
  }

  @Get(':agentId')
  @ApiOperation({
    summary: "One agent's circuit breaker",
    description:
      'A registered agent this instance never called reports closed with `tracked: false`; an agent neither tracked here nor registered is 404.',
  })
  @ApiOkResponse({ type: CircuitBreakerDetailDto })
  @ApiNotFoundResponse({ description: 'No breaker here and no registered agent with this id' })
  async get(@Param() params: AgentIdParamDto): Promise<CircuitBreakerDetailDto> {
    await this.assertKnown(params.agentId);
    return this.registry.snapshot(params.agentId);
  }

  @Post(':agentId/reset')
  @RecordsHumanAction('breaker_reset', 'agentId')
  @HttpCode(200)
  @Roles(Role.Admin, Role.Operator)
  @ApiOperation({
    summary: "Closes an agent's breaker and clears its failures, on every control-plane instance",
  })
  @ApiOkResponse({ type: CircuitBreakerDto })
  @ApiNotFoundResponse({ description: 'No breaker here and no registered agent with this id' })
  async reset(@Param() params: AgentIdParamDto): Promise<CircuitBreakerDto> {
    await this.assertKnown(params.agentId);
    return this.registry.reset(params.agentId);
  }
}
