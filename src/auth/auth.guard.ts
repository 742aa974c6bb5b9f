import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import { ApiKeyService } from './api-key.service';
import { AGENT_SCOPE_KEY, AuthenticatedRequest, PUBLIC_KEY, ROLES_KEY } from './auth.decorators';
import type { Principal } from './principal.type';
import { Role } from './role.enum';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/** Global guard: resolves the bearer token to a principal and enforces roles and agent scope. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
    private readonly config: ConfigService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const path = req.url.split('?')[0] ?? '';
    if (path === '/metrics' && !this.config.http.metricsRequireAuth) return true;

    const principal = this.authenticate(req);
    req.principal = principal;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
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
      const param = this.reflector.get<string | undefined>(AGENT_SCOPE_KEY, context.getHandler());
      this.checkAgentScope(req, principal, param);
    }
    return true;
  }

  private authenticate(req: AuthenticatedRequest): Principal {
    const token = bearerToken(req.headers.authorization);
    if (this.keys.disabled) return this.keys.verify('')!;
    if (!token) {
      throw new AppException(
        ErrorCode.Unauthenticated,
        'Missing bearer token: send "Authorization: Bearer <token>"',
      );
    }
    const principal = this.keys.verify(token);
    if (!principal) throw new AppException(ErrorCode.Unauthenticated, 'Invalid API token');
    return principal;
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
