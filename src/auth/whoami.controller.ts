import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { CurrentPrincipal, NotAgentScoped, Roles } from './auth.decorators';
import type { Principal } from './principal.type';
import { ALL_ROLES, Role } from './role.enum';

class WhoAmIDto extends createZodDto(
  z.object({ name: z.string(), role: z.enum(Role), agentId: z.string().optional() }),
) {}

@ApiTags('auth')
@Controller('v1/whoami')
export class WhoAmIController {
  @Get()
  @Roles(...ALL_ROLES, Role.Task)
  @NotAgentScoped()
  @ApiOperation({ summary: "The caller's key name, role and (for agent keys) agent id" })
  @ApiOkResponse({ type: WhoAmIDto })
  whoami(@CurrentPrincipal() principal: Principal): WhoAmIDto {
    return { name: principal.name, role: principal.role, agentId: principal.agentId };
  }
}
