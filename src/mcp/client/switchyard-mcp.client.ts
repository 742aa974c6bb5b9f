import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { currentTraceCarrier } from '../../observability/tracing';

/** How long one tool call may stay silent (the server sends progress at least every 10 s). */
const IDLE_TIMEOUT_MS = 60_000;

export interface SwitchyardMcpClientOptions {
  /** Control-plane base URL (`/mcp` is appended unless the URL already ends with it). */
  url: string;
  /** An API key or a task credential. */
  token: string;
  name?: string;
}

/** A tool error as Switchyard sends it: the REST error body. */
export class SwitchyardToolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'SwitchyardToolError';
  }
}

export function mcpEndpoint(url: string): URL {
  const trimmed = url.replace(/\/+$/, '');
  return new URL(trimmed.endsWith('/mcp') ? trimmed : `${trimmed}/mcp`);
}

/**
 * A thin MCP client for Switchyard's `/mcp` (Streamable HTTP, bearer token): used by the worker
 * (builtin `ctx.delegate`), `switchyard mcp` (the stdio proxy), tests and the benchmark.
 */
export class SwitchyardMcpClient {
  readonly client: Client;
  private connected?: Promise<void>;

  constructor(private readonly options: SwitchyardMcpClientOptions) {
    this.client = new Client({ name: options.name ?? 'switchyard-client', version: '0.1.0' });
  }

  connect(): Promise<void> {
    this.connected ??= this.client.connect(
      new StreamableHTTPClientTransport(mcpEndpoint(this.options.url), {
        requestInit: { headers: { Authorization: `Bearer ${this.options.token}` } },
      }),
    );
    return this.connected;
  }

  async listTools(): Promise<Tool[]> {
    await this.connect();
    return (await this.client.listTools()).tools;
  }

  /** Raw tool result (errors included as `isError` results). */
  async callRaw(
    name: string,
    args: Record<string, unknown>,
    opts: {
      signal?: AbortSignal;
      onprogress?: (p: { progress: number; total?: number; message?: string }) => void;
    } = {},
  ): Promise<CallToolResult> {
    await this.connect();
    // The caller's trace context (a worker's task execution) goes along in `_meta`, so what the
    // call does on the control plane (a delegated child) joins the caller's trace.
    const trace = currentTraceCarrier();
    const params = { name, arguments: args, ...(trace ? { _meta: { ...trace } } : {}) };
    return (await this.client.callTool(params, undefined, {
      signal: opts.signal,
      timeout: IDLE_TIMEOUT_MS,
      resetTimeoutOnProgress: true,
      onprogress: opts.onprogress ?? (() => undefined),
    })) as CallToolResult;
  }

  /**
   * Calls a tool and returns its JSON value; a tool error becomes a {@link SwitchyardToolError}
   * with the REST code (or `TASK_FAILED` for a delegated task that failed).
   */
  async call<T = unknown>(
    name: string,
    args: Record<string, unknown>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const result = await this.callRaw(name, args, opts);
    const value = toolValue(result);
    if (result.isError) {
      const err = (value as { error?: { code?: string; message?: string } } | undefined)?.error;
      const status = (value as { status?: string } | undefined)?.status;
      throw new SwitchyardToolError(
        err?.code ?? (status ? `TASK_${status}` : 'TOOL_ERROR'),
        err?.message ?? `${name} failed: ${JSON.stringify(value).slice(0, 500)}`,
        value,
      );
    }
    return value as T;
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }
}

/** The JSON value of a Switchyard tool result (its structured content, or its text parsed). */
export function toolValue(result: CallToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent;
  const first = result.content?.[0];
  if (first?.type !== 'text') return undefined;
  try {
    return JSON.parse(first.text) as unknown;
  } catch {
    return first.text;
  }
}
