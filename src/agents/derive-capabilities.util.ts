import { CLAUDE_CODE_TOOLS } from './claude-code-tools.const';
import { toolBaseName } from './tool-list.parser';

/** Built-in Claude Code tools → the capability they give an agent. */
const TOOL_CAPABILITY: Readonly<Record<string, string>> = {
  Read: 'read',
  Grep: 'read',
  Glob: 'read',
  LS: 'read',
  NotebookRead: 'read',
  Write: 'write',
  Edit: 'write',
  MultiEdit: 'write',
  NotebookEdit: 'write',
  Bash: 'exec',
  WebFetch: 'web',
  WebSearch: 'web',
  Task: 'delegate',
  Agent: 'delegate',
};

/** The capability one tool entry gives, if any (`mcp__github__create_issue` → `mcp:github`). */
function capabilityOf(tool: string): string | undefined {
  if (tool.startsWith('mcp__')) {
    const server = tool.slice('mcp__'.length).split('__')[0];
    return server ? `mcp:${server}` : undefined;
  }
  return TOOL_CAPABILITY[toolBaseName(tool)];
}

/**
 * Capabilities of an agent without an explicit `capabilities` key, derived from its tools:
 * Read/Grep/Glob/LS → `read`, Write/Edit/MultiEdit/NotebookEdit → `write`, Bash → `exec`,
 * WebFetch/WebSearch → `web`, Task/Agent → `delegate`, `mcp__<server>__*` → `mcp:<server>`.
 * `tools === undefined` means all tools. Tools listed in `disallowedTools` (bare names) give
 * nothing. Always includes the agent's name; deduplicated and sorted.
 */
export function deriveCapabilities(
  name: string,
  tools: readonly string[] | undefined,
  disallowedTools: readonly string[] = [],
): string[] {
  const denied = new Set(disallowedTools);
  const effective = (tools ?? [...CLAUDE_CODE_TOOLS]).filter((t) => !denied.has(t));
  const capabilities = new Set<string>([name]);
  for (const tool of effective) {
    const capability = capabilityOf(tool);
    if (capability) capabilities.add(capability);
  }
  return [...capabilities].sort();
}
