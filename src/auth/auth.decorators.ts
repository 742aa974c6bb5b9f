import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Principal } from './principal.type';
import type { Role } from './role.enum';

export const PUBLIC_KEY = 'switchyard:public';
export const ROLES_KEY = 'switchyard:roles';
export const AGENT_SCOPE_KEY = 'switchyard:agent-scope';

/** The route needs no token (health probes). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);

/**
 * Roles allowed on the route. Without it: reads (GET/HEAD) allow every role except `agent`,
 * writes allow `admin` and `operator`.
 */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator =>
  SetMetadata(ROLES_KEY, roles);

/**
 * For `agent` tokens: the route acts on the agent named by this route parameter (or, when the
 * parameter is absent, the `id`/`agentId` field of the body); any other agent id is 403.
 */
export const AgentScoped = (param = 'id'): MethodDecorator => SetMetadata(AGENT_SCOPE_KEY, param);

/**
 * For `agent` tokens: the route does not act on any agent (e.g. `GET /v1/whoami`), so an agent
 * token may call it when its role is allowed.
 */
export const NotAgentScoped = (): MethodDecorator => SetMetadata(AGENT_SCOPE_KEY, false);

export interface AuthenticatedRequest extends FastifyRequest {
  principal?: Principal;
}

/** Injects the caller's {@link Principal}. */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!req.principal) throw new Error('CurrentPrincipal used on a route without authentication');
    return req.principal;
  },
);
