import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { assertWithinAgentKeyLimits } from '../auth/agent-key-limits.util';
import { AgentScoped, CurrentPrincipal, Roles } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal.type';
import { Role } from '../auth/role.enum';
import type { Page } from '../common/http/pagination';
import type { AgentRecord } from './agent-record.type';
import {
  AgentIdParamDto,
  AgentPageDto,
  AgentRecordDto,
  HeartbeatDto,
  ListAgentsQueryDto,
  RegisterAgentDto,
} from './discovery.dto';
import { DiscoveryService } from './discovery.service';

/**
 * The agent registry over HTTP. Agent tokens may register, heartbeat, read and deregister only
 * their own id; admin and operator tokens any id; viewers read.
 */
@ApiTags('agents')
@Controller('v1/agents')
export class AgentsController {
  constructor(private readonly discovery: DiscoveryService) {}

  @Post()
  @Roles(Role.Admin, Role.Operator, Role.Agent)
  @AgentScoped('id')
  @ApiOperation({
    summary: 'Register an agent (idempotent by id: 201 when new, 200 when it updated the record)',
  })
  @ApiCreatedResponse({ type: AgentRecordDto, description: 'Registered' })
  @ApiForbiddenResponse({
    description:
      "An agent token claiming another id, a capability not on its key's list, or a maxLoad/ttlSeconds above the key's limits",
  })
  @ApiOkResponse({ type: AgentRecordDto, description: 'Already registered; record updated' })
  async register(
    @Body() body: RegisterAgentDto,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AgentRecord> {
    // An agent key claims only what it lists; the default maxLoad (1) is within every limit.
    assertWithinAgentKeyLimits(principal, body);
    const { agent, created } = await this.discovery.register(body);
    void reply.status(created ? 201 : 200);
    return agent;
  }

  @Get()
  @ApiOperation({
    summary: 'List agents with filters (cursor-paginated), or find by capability with sort=load',
  })
  @ApiOkResponse({ type: AgentPageDto })
  list(@Query() query: ListAgentsQueryDto): Promise<Page<AgentRecord>> {
    return this.discovery.list(query);
  }

  @Get(':id')
  @Roles(Role.Admin, Role.Operator, Role.Viewer, Role.Agent)
  @AgentScoped('id')
  @ApiOperation({ summary: 'One live agent' })
  @ApiOkResponse({ type: AgentRecordDto })
  @ApiNotFoundResponse({ description: 'Unknown or expired' })
  get(@Param() params: AgentIdParamDto): Promise<AgentRecord> {
    return this.discovery.get(params.id);
  }

  @Post(':id/heartbeat')
  @HttpCode(200)
  @Roles(Role.Admin, Role.Operator, Role.Agent)
  @AgentScoped('id')
  @ApiOperation({
    summary: 'Heartbeat: refresh the TTL and report status, load, max load and health score',
  })
  @ApiOkResponse({ type: AgentRecordDto })
  @ApiNotFoundResponse({ description: 'Unknown or expired: register again' })
  heartbeat(
    @Param() params: AgentIdParamDto,
    @Body() body: HeartbeatDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AgentRecord> {
    assertWithinAgentKeyLimits(principal, { maxLoad: body.maxLoad });
    return this.discovery.heartbeat(params.id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Roles(Role.Admin, Role.Operator, Role.Agent)
  @AgentScoped('id')
  @ApiOperation({ summary: 'Deregister an agent' })
  @ApiNoContentResponse({ description: 'Removed from every index' })
  @ApiNotFoundResponse({ description: 'Unknown or expired' })
  async deregister(@Param() params: AgentIdParamDto): Promise<void> {
    await this.discovery.deregister(params.id);
  }
}
