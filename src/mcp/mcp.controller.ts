import { All, Controller, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyReply } from 'fastify';
import { type AuthenticatedRequest, Roles } from '../auth/auth.decorators';
import { Role } from '../auth/role.enum';
import { McpServerFactory } from './mcp-server.factory';

/**
 * `/mcp`: the MCP Streamable HTTP endpoint, stateless (no session id; every POST carries its own
 * JSON-RPC message and is answered on its own response, as JSON or an SSE stream with progress
 * notifications). Authenticated by the global guard like REST: API keys with the admin,
 * operator or viewer role, and task credentials; other callers get the HTTP 401/403.
 */
@ApiExcludeController()
@Controller('mcp')
export class McpController {
  constructor(private readonly servers: McpServerFactory) {}

  @All()
  @Roles(Role.Admin, Role.Operator, Role.Viewer, Role.Task)
  async handle(@Req() req: AuthenticatedRequest, @Res() reply: FastifyReply): Promise<void> {
    const server = this.servers.create(req.principal!);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      // Only calls that wait stream (SSE, for their progress notifications); the rest answer
      // with plain JSON, which is cheaper for both ends.
      enableJsonResponse: !mayWait(req.body),
    });
    reply.hijack();
    reply.raw.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req.raw, reply.raw, req.body);
  }
}

const WAITING_TOOLS = new Set(['delegate', 'delegate_many', 'wait_task']);

/** Whether a JSON-RPC body holds a tool call that may wait (and so send progress). */
function mayWait(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => {
    const msg = m as {
      method?: unknown;
      params?: { name?: unknown; arguments?: { wait?: unknown } };
    };
    if (msg?.method !== 'tools/call' || typeof msg.params?.name !== 'string') return false;
    if (!WAITING_TOOLS.has(msg.params.name)) return false;
    return !(msg.params.name === 'delegate' && msg.params.arguments?.wait === false);
  });
}
