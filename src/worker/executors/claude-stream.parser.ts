import { z } from 'zod';

/**
 * The `result` event / object Claude Code prints last (`--output-format stream-json` or `json`).
 * Only the fields we use are typed; the rest is kept. Shapes: test/fixtures/claude-code/.
 */
export const claudeResultSchema = z.looseObject({
  type: z.literal('result'),
  subtype: z.string(),
  is_error: z.boolean().optional(),
  result: z.string().optional(),
  session_id: z.string().optional(),
  num_turns: z.number().optional(),
  duration_ms: z.number().optional(),
  total_cost_usd: z.number().optional(),
  terminal_reason: z.string().nullish(),
  api_error_status: z.number().nullish(),
  api_error_type: z.string().nullish(),
  permission_denials: z
    .array(z.looseObject({ tool_name: z.string(), tool_input: z.unknown().optional() }))
    .optional(),
  usage: z
    .looseObject({
      input_tokens: z.number().optional(),
      output_tokens: z.number().optional(),
      cache_creation_input_tokens: z.number().optional(),
      cache_read_input_tokens: z.number().optional(),
    })
    .optional(),
});
export type ClaudeResult = z.infer<typeof claudeResultSchema>;

/** One `system/api_retry` event: Claude Code is retrying a failed API call itself. */
export interface ClaudeApiRetry {
  attempt: number;
  maxRetries?: number;
  retryDelayMs?: number;
  errorStatus?: number;
  error?: string;
}

/** Kinds of step a Claude run publishes as task progress. */
export type ClaudeStepKind =
  'init' | 'text' | 'tool_call' | 'tool_result' | 'api_retry' | 'api_error' | 'result' | 'note';

/** One step of a Claude run, summarised for the live feed (bounded: see {@link MAX_SUMMARY_CHARS}). */
export interface ClaudeStep {
  kind: ClaudeStepKind;
  /** One line a human reads in `switchyard task logs`. */
  summary: string;
  /** Assistant turn the step belongs to (1-based; 0 before the first assistant message). */
  turn: number;
  /** A few flat facts (tool name, size, error flag, cost…). */
  data?: Record<string, string | number | boolean | null>;
}

/** Longest step summary; with 200 steps kept per task this bounds the record well under 256 KiB. */
export const MAX_SUMMARY_CHARS = 600;
/** A stream line longer than this is not buffered whole (its step is dropped, the run goes on). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collapses whitespace and cuts `text` to `max` characters (with an ellipsis). */
export function clip(text: string, max = MAX_SUMMARY_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** A short human summary of a tool call's input: the field that says most, else compact JSON. */
export function summarizeToolInput(name: string, input: unknown): string {
  if (!isObject(input)) return clip(JSON.stringify(input ?? null), 200);
  for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description']) {
    const v = input[key];
    if (typeof v === 'string' && v) return clip(`${key}=${v}`, 200);
  }
  if (name.startsWith('mcp__') && typeof input.capability === 'string') {
    return clip(`capability=${input.capability}`, 200);
  }
  return clip(JSON.stringify(input), 200);
}

function toolResultBytes(content: unknown): number {
  if (typeof content === 'string') return Buffer.byteLength(content);
  if (Array.isArray(content)) {
    let n = 0;
    for (const part of content) {
      if (isObject(part) && typeof part.text === 'string') n += Buffer.byteLength(part.text);
      else n += Buffer.byteLength(JSON.stringify(part));
    }
    return n;
  }
  return content === undefined ? 0 : Buffer.byteLength(JSON.stringify(content));
}

/**
 * Incremental parser of `claude -p --output-format stream-json --verbose`: feed it stdout chunks
 * as they arrive; it calls `onStep` for each step worth showing and keeps what the executor needs
 * at the end (session id, turns, `api_retry` events, the API error message, the `result`). Lines
 * that are not JSON are counted, not fatal (Claude Code prints only JSON there, but a wrapper
 * script might not). Also accepts the single object of `--output-format json`.
 */
export class ClaudeStreamParser {
  sessionId?: string;
  model?: string;
  turns = 0;
  result?: ClaudeResult;
  readonly apiRetries: ClaudeApiRetry[] = [];
  /** The synthetic assistant message Claude Code adds for an API error (`is_api_error_message`). */
  apiError?: { text: string; status?: number; type?: string };
  /** Names of the MCP servers `system/init` reported, with their status. */
  mcpServers: { name: string; status: string }[] = [];
  events = 0;
  badLines = 0;
  firstBadLine?: string;
  private readonly toolNames = new Map<string, string>();
  private readonly seenMessages = new Set<string>();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skippingLongLine = false;

  constructor(private readonly onStep: (step: ClaudeStep) => void = () => undefined) {}

  /** Feeds a chunk of stdout. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.skippingLongLine) this.skippingLongLine = false;
      else if (this.pendingBytes === 0) this.line(piece.toString('utf8'));
      else {
        this.pending.push(piece);
        this.line(Buffer.concat(this.pending).toString('utf8'));
      }
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length && !this.skippingLongLine) {
      const rest = chunk.subarray(start);
      this.pendingBytes += rest.length;
      if (this.pendingBytes > MAX_LINE_BYTES) {
        this.badLines++;
        this.pending = [];
        this.pendingBytes = 0;
        this.skippingLongLine = true;
      } else this.pending.push(Buffer.from(rest));
    }
  }

  /** The process closed stdout: parses a last line without a newline. */
  end(): void {
    if (this.pendingBytes > 0) this.line(Buffer.concat(this.pending).toString('utf8'));
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Parses one complete line (exposed for tests and for the SDK runner's messages). */
  line(text: string): void {
    const trimmed = text.trim();
    if (!trimmed) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      this.badLines++;
      this.firstBadLine ??= trimmed.slice(0, 500);
      return;
    }
    // `--output-format json --verbose` prints one array of all messages.
    if (Array.isArray(parsed)) for (const m of parsed) this.message(m);
    else this.message(parsed);
  }

  /** Handles one stream message (a parsed line, or a message object from the Agent SDK). */
  message(m: unknown): void {
    if (!isObject(m)) return;
    this.events++;
    if (typeof m.session_id === 'string') this.sessionId ??= m.session_id;
    switch (m.type) {
      case 'system':
        return this.system(m);
      case 'assistant':
        return this.assistant(m);
      case 'user':
        return this.user(m);
      case 'result':
        return this.resultEvent(m);
      default:
        return;
    }
  }

  private step(kind: ClaudeStepKind, summary: string, data?: ClaudeStep['data']): void {
    const step: ClaudeStep = { kind, summary: clip(summary), turn: this.turns };
    if (data) step.data = data;
    this.onStep(step);
  }

  private system(m: Json): void {
    if (m.subtype === 'init') {
      if (typeof m.model === 'string') this.model = m.model;
      if (Array.isArray(m.mcp_servers)) {
        this.mcpServers = m.mcp_servers.filter(isObject).map((s) => ({
          name: String(s.name),
          status: String(s.status),
        }));
      }
      const tools = Array.isArray(m.tools) ? m.tools.length : 0;
      const mcp = this.mcpServers.map((s) => `${s.name}:${s.status}`).join(', ');
      this.step(
        'init',
        `session ${String(m.session_id)} started (model ${String(m.model)}, ${tools} tools${mcp ? `, MCP ${mcp}` : ''})`,
        {
          sessionId: typeof m.session_id === 'string' ? m.session_id : null,
          model: typeof m.model === 'string' ? m.model : null,
          permissionMode: typeof m.permissionMode === 'string' ? m.permissionMode : null,
          tools,
        },
      );
    } else if (m.subtype === 'api_retry') {
      const retry: ClaudeApiRetry = { attempt: Number(m.attempt ?? this.apiRetries.length + 1) };
      if (typeof m.max_retries === 'number') retry.maxRetries = m.max_retries;
      if (typeof m.retry_delay_ms === 'number') retry.retryDelayMs = m.retry_delay_ms;
      if (typeof m.error_status === 'number') retry.errorStatus = m.error_status;
      if (typeof m.error === 'string') retry.error = m.error;
      this.apiRetries.push(retry);
      this.step(
        'api_retry',
        `API error ${retry.errorStatus ?? '?'} (${retry.error ?? 'unknown'}); Claude Code retries (${retry.attempt}/${retry.maxRetries ?? '?'}) in ${retry.retryDelayMs ?? '?'} ms`,
        {
          attempt: retry.attempt,
          maxRetries: retry.maxRetries ?? null,
          retryDelayMs: retry.retryDelayMs ?? null,
          errorStatus: retry.errorStatus ?? null,
        },
      );
    }
  }

  private assistant(m: Json): void {
    const msg = isObject(m.message) ? m.message : {};
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    // One API response may come as several assistant events sharing its message id.
    if (!id || !this.seenMessages.has(id)) {
      if (id) this.seenMessages.add(id);
      if (m.is_api_error_message !== true) this.turns++;
    }
    const content = Array.isArray(msg.content) ? msg.content.filter(isObject) : [];
    if (m.is_api_error_message === true) {
      const text = content.map((c) => (typeof c.text === 'string' ? c.text : '')).join(' ');
      this.apiError = { text };
      if (typeof m.api_error_status === 'number') this.apiError.status = m.api_error_status;
      if (typeof m.api_error_type === 'string') this.apiError.type = m.api_error_type;
      this.step('api_error', text || 'API error', {
        status: this.apiError.status ?? null,
        type: this.apiError.type ?? null,
      });
      return;
    }
    for (const c of content) {
      if (c.type === 'text' && typeof c.text === 'string' && c.text.trim()) {
        this.step('text', c.text);
      } else if (c.type === 'tool_use' && typeof c.name === 'string') {
        if (typeof c.id === 'string') this.toolNames.set(c.id, c.name);
        const summary = summarizeToolInput(c.name, c.input);
        this.step('tool_call', `${c.name} ${summary}`, { tool: c.name, input: summary });
      } else if (c.type === 'thinking') {
        this.step('text', '(thinking)', { thinking: true });
      }
    }
  }

  private user(m: Json): void {
    const msg = isObject(m.message) ? m.message : {};
    const content = Array.isArray(msg.content) ? msg.content.filter(isObject) : [];
    for (const c of content) {
      if (c.type !== 'tool_result') continue;
      const id = typeof c.tool_use_id === 'string' ? c.tool_use_id : '';
      const tool = this.toolNames.get(id) ?? 'tool';
      const bytes = toolResultBytes(c.content);
      const isError = c.is_error === true;
      this.step('tool_result', `${tool} → ${isError ? 'error, ' : ''}${bytes} bytes`, {
        tool,
        bytes,
        isError,
      });
    }
  }

  private resultEvent(m: Json): void {
    const parsed = claudeResultSchema.safeParse(m);
    if (!parsed.success) return;
    const r = parsed.data;
    this.result = r;
    if (r.session_id) this.sessionId = r.session_id;
    const cost = r.total_cost_usd !== undefined ? `, $${r.total_cost_usd.toFixed(4)}` : '';
    const status = r.is_error ? 'error' : r.subtype;
    this.step(
      'result',
      `${status} after ${r.num_turns ?? this.turns} turn(s)${cost}: ${r.result ?? ''}`,
      {
        subtype: r.subtype,
        isError: r.is_error ?? false,
        turns: r.num_turns ?? this.turns,
        costUsd: r.total_cost_usd ?? null,
        terminalReason: r.terminal_reason ?? null,
        permissionDenials: r.permission_denials?.length ?? 0,
      },
    );
  }
}
