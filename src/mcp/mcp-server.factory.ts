import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { SpanKind } from '@opentelemetry/api';
import type { Principal } from '../auth/principal.type';
import { Role } from '../auth/role.enum';
import {
  READ_ONLY_TOOLS,
  TOOL_DESCRIPTIONS,
  type ToolName,
  toolInputSchemas,
} from './mcp-tool.schemas';
import { McpToolsService, toolJsonSchema } from './mcp-tools.service';
import { type TraceCarrier, tracingActive, withSpanFrom } from '../observability/tracing';
import { TaskSubmission } from '../queue/task-submission.service';

export const MCP_SERVER_NAME = 'switchyard';
const VERSION = '0.1.0';

/** Tool list (schemas generated once). */
export const TOOLS: Tool[] = (Object.keys(toolInputSchemas) as ToolName[]).map((name) => ({
  name,
  description: TOOL_DESCRIPTIONS[name],
  inputSchema: toolJsonSchema(name) as Tool['inputSchema'],
  annotations: { readOnlyHint: READ_ONLY_TOOLS.has(name) },
}));

/**
 * Builds one MCP server for one caller. The HTTP transport is stateless (a server per request,
 * no session), so any control-plane instance can serve any call.
 */
@Injectable()
export class McpServerFactory {
  constructor(
    private readonly tools: McpToolsService,
    private readonly submission: TaskSubmission,
  ) {}

  create(principal: Principal): Server {
    const server = new Server(
      { name: MCP_SERVER_NAME, version: VERSION },
      {
        capabilities: { tools: {}, logging: {} },
        instructions:
          'Switchyard: find other agents (find_agents, list_capabilities), hand them work as child tasks of your task (delegate, delegate_many), follow them (get_task, wait_task, cancel_task), share JSON documents (state_*), and report progress.',
      },
    );
    const visible = TOOLS.filter((t) => toolVisible(principal, t.name as ToolName));
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: visible }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const meta = request.params._meta;
      const progressToken = meta?.progressToken;
      // W3C trace context in `_meta` (Switchyard's worker client sends it): the call's spans,
      // and a delegated child's whole execution, join the caller's trace.
      // Without one, a task credential's call joins its task's trace (stored at enqueue), so a
      // Claude agent's delegations land in the right trace too.
      const carrier =
        traceCarrierOf(meta) ??
        (principal.task && tracingActive()
          ? await this.submission.storedTraceContext(principal.task.taskId)
          : undefined);
      return withSpanFrom(
        carrier,
        'mcp_tool_call',
        { 'mcp.tool': request.params.name },
        () =>
          this.tools.call(principal, request.params.name, request.params.arguments, {
            signal: extra.signal,
            progress: async (progress, total, message) => {
              if (progressToken !== undefined) {
                await extra.sendNotification({
                  method: 'notifications/progress',
                  params: { progressToken, progress, ...(total ? { total } : {}), message },
                });
              } else {
                // No progress token: a log message still keeps the response stream busy.
                await extra.sendNotification({
                  method: 'notifications/message',
                  params: { level: 'info', logger: MCP_SERVER_NAME, data: message },
                });
              }
            },
          }),
        SpanKind.SERVER,
      );
    });
    return server;
  }
}

/** The W3C trace context a caller put in a tool call's `_meta`, if any. */
function traceCarrierOf(meta: Record<string, unknown> | undefined): TraceCarrier | undefined {
  const tp = meta?.traceparent;
  if (typeof tp !== 'string' || tp.length > 128) return undefined;
  const ts = meta?.tracestate;
  return {
    traceparent: tp,
    ...(typeof ts === 'string' && ts.length <= 512 ? { tracestate: ts } : {}),
  };
}

/** A viewer sees the read-only tools; report_progress is only listed for task credentials. */
function toolVisible(principal: Principal, tool: ToolName): boolean {
  if (tool === 'report_progress') return principal.role === Role.Task;
  if (principal.role === Role.Viewer) return READ_ONLY_TOOLS.has(tool);
  return true;
}
