import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { Role } from '../auth/role.enum';
import { BreakerRegistry } from './breaker-registry.service';
import {
  AgentIdParamDto,
  CircuitBreakerDetailDto,
  CircuitBreakerDto,
  CircuitBreakerListDto,
} from './circuit-breaker.dto';

@ApiTags('circuit-breakers')
@Controller('v1/circuit-breakers')
export class CircuitBreakersController {
  constructor(private readonly registry: BreakerRegistry) {}

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
      'Every agent has a breaker; one this instance never called reports closed with `tracked: false`.',
  })
  @ApiOkResponse({ type: CircuitBreakerDetailDto })
  get(@Param() params: AgentIdParamDto): CircuitBreakerDetailDto {
    return this.registry.snapshot(params.agentId);
  }

  @Post(':agentId/reset')
  @HttpCode(200)
  @Roles(Role.Admin, Role.Operator)
  @ApiOperation({
    summary: "Closes an agent's breaker and clears its failures, on every control-plane instance",
  })
  @ApiOkResponse({ type: CircuitBreakerDto })
  reset(@Param() params: AgentIdParamDto): CircuitBreakerDto {
    return this.registry.reset(params.agentId);
  }
}
