import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import { ApiKeyService } from './api-key.service';
import { AuthFailureLimiter } from './auth-failure-limiter.service';
import { AGENT_SCOPE_KEY, AuthenticatedRequest, PUBLIC_KEY, ROLES_KEY } from './auth.decorators';
import type { Principal } from './principal.type';
import { Role } from './role.enum';
import { looksLikeTaskCredential } from './task-credential.codec';
import { TaskCredentialService } from './task-credential.service';
import { TaskScopePolicy } from './task-scope.policy';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** `dependsOn` of a submission is at most this long (task.schemas.ts); a longer one is a 400. */
const MAX_CHECKED_DEPENDENCIES = 1000;

export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/** Alternative header for task credentials (for services that keep Authorization for themselves). */
export const TASK_TOKEN_HEADER = 'x-switchyard-task-token';

function taskTokenHeader(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.trim() || undefined;
}

/** Global guard: resolves the bearer token to a principal and enforces roles and agent scope. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
    private readonly config: ConfigService,
    private readonly credentials: TaskCredentialService,
    private readonly scope: TaskScopePolicy,
    private readonly limiter: AuthFailureLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    // The matched route, not the raw URL (which may be percent-encoded).
    const path = req.routeOptions.url ?? req.url.split('?')[0] ?? '';
    if (path === '/metrics' && !this.config.http.metricsRequireAuth) return true;

    const principal = await this.authenticate(req);
    req.principal = principal;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (principal.role === Role.Task) {
      if (!roles?.includes(Role.Task)) await this.checkTaskRoute(req, principal, path);
      return true;
    }
    const allowed =
      roles ??
      (READ_METHODS.has(req.method)
        ? [Role.Admin, Role.Operator, Role.Viewer]
        : [Role.Admin, Role.Operator]);
    if (!allowed.includes(principal.role)) {
      throw new AppException(
        ErrorCode.Forbidden,
        `Role '${principal.role}' may not ${req.method} ${path}`,
        { role: principal.role, allowed },
      );
    }
    if (principal.role === Role.Agent) {
      const param = this.reflector.get<string | false | undefined>(
        AGENT_SCOPE_KEY,
        context.getHandler(),
      );
      if (param !== false) this.checkAgentScope(req, principal, param);
    }
    return true;
  }

  private async authenticate(req: AuthenticatedRequest): Promise<Principal> {
    const token = bearerToken(req.headers.authorization);
    const taskToken = token ?? taskTokenHeader(req.headers[TASK_TOKEN_HEADER]);
    if (taskToken && looksLikeTaskCredential(taskToken)) {
      return this.credentials.authenticate(taskToken);
    }
    if (this.keys.disabled) return this.keys.verify('')!;
    const retryAfter = this.limiter.retryAfterSeconds(req.ip, 'http');
    if (retryAfter > 0) {
      throw new AppException(
        ErrorCode.TooManyRequests,
        `Too many failed authentications from this address; try again in ${retryAfter} s`,
        { retryAfterSeconds: retryAfter },
      );
    }
    if (!token) {
      this.limiter.fail(req.ip, 'http');
      throw new AppException(
        ErrorCode.Unauthenticated,
        'Missing bearer token: send "Authorization: Bearer <token>"',
      );
    }
    const principal = this.keys.verify(token);
    if (!principal) {
      this.limiter.fail(req.ip, 'http');
      throw new AppException(ErrorCode.Unauthenticated, 'Invalid API token');
    }
    return principal;
  }

  /**
   * REST routes a task credential may use (any other is 403): create a child of its task
   * (depending only on tasks of its tree), read or cancel within its tree, its workflow's state.
   * The full table is the task column of the matrix in docs/SECURITY.md. Routes that name `Role.Task` in `@Roles`
   * (e.g. /mcp) do their own scoping.
   */
  private async checkTaskRoute(
    req: AuthenticatedRequest,
    principal: Principal,
    path: string,
  ): Promise<void> {
    const route = req.routeOptions?.url ?? path;
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    const key = `${req.method} ${route}`;
    if (key === 'POST /v1/tasks') {
      const body = req.body;
      if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
        const b = body as Record<string, unknown>;
        const requested = typeof b.parentTaskId === 'string' ? b.parentTaskId : undefined;
        b.parentTaskId = this.scope.parentFor(principal, requested);
        // A longer list is refused by the body's schema (400) before anything is stored.
        if (Array.isArray(b.dependsOn) && b.dependsOn.length <= MAX_CHECKED_DEPENDENCIES) {
          await this.scope.assertDependenciesInTree(principal, b.dependsOn);
        }
      }
      return;
    }
    if (key === 'GET /v1/tasks/:id' || key === 'GET /v1/tasks/:id/tree') {
      await this.scope.assertInTree(principal, params.id ?? '');
      return;
    }
    if (key === 'POST /v1/tasks/:id/cancel') {
      await this.scope.assertDescendant(principal, params.id ?? '');
      return;
    }
    if (route === '/v1/state/*' && ['GET', 'PUT', 'PATCH', 'DELETE'].includes(req.method)) {
      this.scope.assertStateKey(principal, params['*'] ?? '');
      return;
    }
    if (key === 'GET /v1/state') {
      const query = (req.query ?? {}) as Record<string, unknown>;
      this.scope.assertStateKey(principal, typeof query.prefix === 'string' ? query.prefix : '');
      return;
    }
    throw new AppException(
      ErrorCode.Forbidden,
      `A task credential may not ${req.method} ${path} (it may create children of its task, read its tree and use its workflow's state)`,
      { role: principal.role },
    );
  }

  private checkAgentScope(
    req: AuthenticatedRequest,
    principal: Principal,
    param: string | undefined,
  ): void {
    if (param === undefined) {
      throw new AppException(ErrorCode.Forbidden, 'Agent tokens may not use this route');
    }
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const target = params[param] ?? body[param] ?? body.id ?? body.agentId;
    if (target !== principal.agentId) {
      throw new AppException(
        ErrorCode.Forbidden,
        `This token acts only for agent '${principal.agentId}', not '${String(target)}'`,
        { agentId: principal.agentId, requested: target },
      );
    }
  }
}
