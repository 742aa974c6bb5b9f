import { CLAUDE_CODE_TOOLS } from './claude-code-tools.const';

/** What {@link parseToolList} made of a `tools` / `disallowedTools` value. */
export interface ParsedToolList {
  /** Valid entries in file order, deduplicated; `undefined` = all tools (key absent, null or `*`). */
  tools: string[] | undefined;
  /** Human-readable notes about entries that were dropped; never fatal. */
  warnings: string[];
}

const MCP_TOOL = /^mcp__[A-Za-z0-9_-]+(?:__\*)?$/;
const RULE_FORM = /^([A-Za-z]+)\((.*)\)$/s;

/** The tool a `tools` entry names: `Bash(git:*)` → `Bash`, `mcp__gh__x` → itself. */
export function toolBaseName(entry: string): string {
  const rule = RULE_FORM.exec(entry);
  return rule ? rule[1] : entry;
}

function isKnownTool(entry: string): boolean {
  return MCP_TOOL.test(entry) || CLAUDE_CODE_TOOLS.has(toolBaseName(entry));
}

/**
 * Parses a `tools`-style front-matter value the way Claude Code reads it: a comma-separated
 * string (`Read, Grep`) or a YAML list. Empty entries are ignored silently; entries that name no
 * Claude Code tool (typos, numbers, objects) are dropped with a warning and valid ones kept.
 * `*` means all tools. `key` is only used in warnings.
 */
export function parseToolList(value: unknown, key: string): ParsedToolList {
  const warnings: string[] = [];
  if (value === undefined || value === null) return { tools: undefined, warnings };
  let raw: unknown[];
  if (typeof value === 'string') raw = value.split(',');
  else if (Array.isArray(value)) raw = value;
  else {
    warnings.push(
      `ignored \`${key}\`: expected a comma-separated string or a list, got ${describe(value)}`,
    );
    return { tools: undefined, warnings };
  }
  const tools: string[] = [];
  for (const item of raw) {
    if (item === null || item === undefined) continue;
    if (typeof item !== 'string') {
      warnings.push(`ignored ${describe(item)} in \`${key}\`: not a tool name`);
      continue;
    }
    const entry = item.trim();
    if (entry === '') continue;
    if (entry === '*') return { tools: undefined, warnings };
    if (!isKnownTool(entry)) {
      warnings.push(`ignored unknown tool "${entry}" in \`${key}\``);
      continue;
    }
    if (!tools.includes(entry)) tools.push(entry);
  }
  return { tools, warnings };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
