import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { SwitchyardMcpClient } from './switchyard-mcp.client';

export interface StdioProxyOptions {
  url: string;
  token: string;
  /** Defaults to stdin/stdout. */
  transport?: Transport;
}

/**
 * `switchyard mcp`: the Switchyard tools over stdio, for MCP clients that start a local process
 * (Claude Code's `claude mcp add switchyard -- npx switchyard mcp ...`, Claude Desktop). Each
 * call is forwarded to the control plane's `/mcp` with the given token, so the tools, their
 * schemas, permissions and errors are exactly the HTTP ones; progress notifications are
 * relayed to the local client.
 */
export async function runStdioProxy(
  options: StdioProxyOptions,
): Promise<{ server: Server; upstream: SwitchyardMcpClient }> {
  const upstream = new SwitchyardMcpClient({
    url: options.url,
    token: options.token,
    name: 'switchyard-stdio-proxy',
  });
  // Fail at start (bad URL or token) rather than on the first tool call.
  await upstream.connect();
  const info = upstream.client.getServerVersion();
  const server = new Server(
    { name: info?.name ?? 'switchyard', version: info?.version ?? '0.0.0' },
    {
      capabilities: { tools: {}, logging: {} },
      ...(upstream.client.getInstructions()
        ? { instructions: upstream.client.getInstructions() }
        : {}),
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: await upstream.listTools(),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const progressToken = request.params._meta?.progressToken;
    return upstream.callRaw(request.params.name, request.params.arguments ?? {}, {
      signal: extra.signal,
      onprogress: (p) => {
        if (progressToken === undefined) return;
        void extra
          .sendNotification({
            method: 'notifications/progress',
            params: { progressToken, ...p },
          })
          .catch(() => undefined);
      },
    });
  });
  server.onclose = () => void upstream.close();
  await server.connect(options.transport ?? new StdioServerTransport());
  return { server, upstream };
}
