/** How an agent's tasks are executed (see docs/agents.md). */
export type ExecutorKind = 'builtin' | 'command' | 'http' | 'claude';

/**
 * An agent loaded from a definition file: a Claude Code subagent (Markdown + YAML front matter)
 * plus Switchyard's optional keys.
 */
export interface AgentDefinition {
  /** Agent id: the `name` key (not the file name). */
  name: string;
  description: string;
  /** Allowed tools; `undefined` means the file has no `tools` key (all tools, as in Claude Code). */
  tools?: string[];
  disallowedTools: string[];
  model?: string;
  permissionMode?: string;
  maxTurns?: number;
  color?: string;
  /** Explicit `capabilities`, or derived from tools, always including the agent's name. */
  capabilities: string[];
  /** Default `claude` (a plain Claude Code subagent). */
  executor: ExecutorKind;
  /** `command` executor: argv, never run through a shell. */
  command?: string[];
  /** `http` executor: where tasks are POSTed. */
  url?: string;
  /** `builtin` executor: a registered builtin handler name or a path to a JS module. */
  handler?: string;
  /** Tasks this agent runs at once (default 1). */
  maxConcurrency: number;
  /** Per-task execution timeout for this agent, if the file sets one. */
  timeoutSeconds?: number;
  /** `mcp: false`: the claude executor gives it no Switchyard MCP server (default: given when configured). */
  mcp?: boolean;
  /** `resume: false`: a stalled/timed-out task starts a new Claude session instead of resuming (default true). */
  resume?: boolean;
  /** Claude Code's `isolation: worktree`: each task runs in its own git worktree (see docs/WORKER.md). */
  isolation?: 'worktree' | 'none';
  /**
   * Environment variable names this agent's process inherits from the worker besides the
   * allow-list (command/claude executors; see docs/SECURITY.md).
   */
  passEnv?: string[];
  /** The Markdown body: the agent's system prompt. */
  systemPrompt: string;
  /** Path of the definition file, relative to the directory that was scanned. */
  file: string;
  /** Absolute path of the definition file. */
  path: string;
  /**
   * Front-matter keys without a field above, kept verbatim: unknown keys and Claude Code keys we
   * do not model (`skills`, `hooks`, `mcpServers`...).
   */
  extra: Record<string, unknown>;
  /** Non-fatal notes from loading (ignored tool names, a repaired line...); set by the loader. */
  warnings?: string[];
}

export interface SkippedAgentFile {
  file: string;
  reason: string;
}

export interface AgentLoadResult {
  loaded: AgentDefinition[];
  skipped: SkippedAgentFile[];
}
