import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { pageSchema } from '../common/http/pagination';
import {
  agentIdParamSchema,
  agentRecordSchema,
  capabilitySummarySchema,
  heartbeatSchema,
  listAgentsQuerySchema,
  registerAgentSchema,
} from './discovery.schemas';

/** REST DTOs of the discovery API; the schemas live in discovery.schemas.ts. */
export class RegisterAgentDto extends createZodDto(registerAgentSchema) {}
export class HeartbeatDto extends createZodDto(heartbeatSchema) {}
export class ListAgentsQueryDto extends createZodDto(listAgentsQuerySchema) {}
export class AgentIdParamDto extends createZodDto(agentIdParamSchema) {}
export class AgentRecordDto extends createZodDto(agentRecordSchema) {}
export class AgentPageDto extends createZodDto(pageSchema(agentRecordSchema)) {}
export class CapabilityListDto extends createZodDto(
  z.object({ items: z.array(capabilitySummarySchema) }),
) {}
