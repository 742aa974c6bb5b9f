/**
 * Tool names Claude Code knows (built-in tools, current and older names). A `tools` or
 * `disallowedTools` entry is kept when it is one of these, a permission-rule form of one
 * (`Bash(git status:*)`, `Task(reviewer)`), or an MCP tool (`mcp__<server>` / `mcp__<server>__<tool>`).
 * Anything else matches no tool in Claude Code either, so the loader drops it with a warning.
 */
export const CLAUDE_CODE_TOOLS: ReadonlySet<string> = new Set([
  'Agent',
  'AskUserQuestion',
  'Bash',
  'BashOutput',
  'Edit',
  'EnterPlanMode',
  'ExitPlanMode',
  'Glob',
  'Grep',
  'KillBash',
  'KillShell',
  'LS',
  'LSP',
  'ListMcpResourcesTool',
  'MultiEdit',
  'NotebookEdit',
  'NotebookRead',
  'Read',
  'ReadMcpResourceTool',
  'SlashCommand',
  'Skill',
  'Task',
  'TaskOutput',
  'TaskStop',
  'TodoRead',
  'TodoWrite',
  'ToolSearch',
  'WebFetch',
  'WebSearch',
  'Write',
]);
