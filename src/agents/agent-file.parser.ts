import type { AgentDefinition, SkippedAgentFile } from './agent-definition.type';
import { agentFrontMatterSchema } from './agent-front-matter.schema';
import { deriveCapabilities } from './derive-capabilities.util';
import { parseFrontMatter } from './front-matter.parser';
import { parseToolList } from './tool-list.parser';

/** Keys with a typed field in {@link AgentDefinition}; every other key goes to `extra`. */
const TYPED_KEYS = new Set([
  'name',
  'description',
  'tools',
  'disallowedTools',
  'model',
  'permissionMode',
  'maxTurns',
  'color',
  'capabilities',
  'executor',
  'command',
  'url',
  'handler',
  'maxConcurrency',
  'timeoutSeconds',
  'mcp',
  'resume',
  'isolation',
  'passEnv',
]);

/** Front-matter keys Claude Code itself reads that we keep in `extra` without a warning. */
const CLAUDE_CODE_KEYS = new Set([
  'skills',
  'hooks',
  'mcpServers',
  'memory',
  'background',
  'effort',
  'initialPrompt',
  'forkContext',
]);

const DOCUMENTATION = 'not an agent definition (documentation?)';

/**
 * Turns the text of one agent definition file (a Claude Code subagent: Markdown with YAML front
 * matter, plus Switchyard's keys) into an {@link AgentDefinition}, or says why it is skipped.
 * Pure: `file` (relative) and `path` (absolute) are only recorded. Loads what Claude Code loads
 * and skips what it skips; see docs/agents.md for every rule.
 */
export function parseAgentFile(
  text: string,
  file: string,
  path: string,
): AgentDefinition | SkippedAgentFile {
  const skip = (reason: string): SkippedAgentFile => ({ file, reason });
  const frontMatter = parseFrontMatter(text);
  if (frontMatter.status === 'absent') return skip(`no YAML front matter: ${DOCUMENTATION}`);
  if (frontMatter.status === 'unclosed') {
    return skip(`front matter opened with "---" is never closed: ${DOCUMENTATION}`);
  }
  if (frontMatter.status === 'invalid') {
    return skip(`invalid YAML front matter: ${frontMatter.error}`);
  }
  const data = frontMatter.data ?? {};
  if (!isRecord(data))
    return skip(`front matter is not a set of "key: value" lines: ${DOCUMENTATION}`);

  const rawName = data.name;
  if (
    rawName === undefined ||
    rawName === null ||
    (typeof rawName === 'string' && !rawName.trim())
  ) {
    return skip(`no \`name\` in front matter: ${DOCUMENTATION}`);
  }
  if (typeof rawName !== 'string') return skip(`\`name\` must be text, got ${typeOf(rawName)}`);
  const name = rawName.trim();
  if (name.startsWith('-')) return skip(`\`name\` "${name}" must not start with "-"`);
  if (name.includes(':')) {
    return skip(`\`name\` "${name}" must not contain ":" (reserved for plugin namespaces)`);
  }

  const rawDescription = data.description;
  if (
    typeof rawDescription !== 'string' &&
    rawDescription !== undefined &&
    rawDescription !== null
  ) {
    return skip(`\`description\` must be text, got ${typeOf(rawDescription)}`);
  }
  const description = (rawDescription ?? '').replace(/\\n/g, '\n').trim();
  if (!description) {
    return skip(
      'missing or empty `description` (Claude Code requires one to know when to use the agent)',
    );
  }

  const ours = agentFrontMatterSchema.safeParse(withoutNulls(data));
  if (!ours.success) {
    const issue = ours.error.issues[0];
    const key = String(issue.path[0] ?? '');
    if (!(key in data) || data[key] === null) return skip(`missing \`${key}\`: ${issue.message}`);
    return skip(`invalid \`${key}\`: ${issue.message} (got ${JSON.stringify(data[key])})`);
  }
  const keys = ours.data;

  const warnings: string[] = [];
  for (const key of frontMatter.quotedKeys) {
    warnings.push(
      `\`${key}\` is not valid YAML as written (unquoted ": " inside); read it as quoted text`,
    );
  }
  const tools = parseToolList(data.tools, 'tools');
  const disallowed = parseToolList(data.disallowedTools, 'disallowedTools');
  warnings.push(...tools.warnings, ...disallowed.warnings);
  const disallowedTools = disallowed.tools ?? [];

  const executor = keys.executor ?? 'claude';
  for (const key of ['command', 'url', 'handler'] as const) {
    const needs = { command: 'command', url: 'http', handler: 'builtin' }[key];
    if (keys[key] !== undefined && executor !== needs) {
      warnings.push(`\`${key}\` is ignored unless executor is ${needs} (executor is ${executor})`);
    }
  }

  const model = optionalString(data, 'model', warnings);
  const permissionMode = optionalString(data, 'permissionMode', warnings);
  const color = optionalString(data, 'color', warnings);
  const maxTurns = optionalPositiveInt(data, 'maxTurns', warnings);

  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (TYPED_KEYS.has(key)) continue;
    extra[key] = value;
    if (!CLAUDE_CODE_KEYS.has(key)) warnings.push(`unknown key \`${key}\` (kept, not used)`);
  }

  const definition: AgentDefinition = {
    name,
    description,
    ...(tools.tools !== undefined && { tools: tools.tools }),
    disallowedTools,
    ...(model !== undefined && { model }),
    ...(permissionMode !== undefined && { permissionMode }),
    ...(maxTurns !== undefined && { maxTurns }),
    ...(color !== undefined && { color }),
    capabilities: keys.capabilities
      ? [...new Set([...keys.capabilities, name])].sort()
      : deriveCapabilities(name, tools.tools, disallowedTools),
    executor,
    ...(keys.command !== undefined && { command: keys.command }),
    ...(keys.url !== undefined && { url: keys.url }),
    ...(keys.handler !== undefined && { handler: keys.handler }),
    maxConcurrency: keys.maxConcurrency ?? 1,
    ...(keys.timeoutSeconds !== undefined && { timeoutSeconds: keys.timeoutSeconds }),
    ...(keys.mcp !== undefined && { mcp: keys.mcp }),
    ...(keys.resume !== undefined && { resume: keys.resume }),
    ...(keys.isolation !== undefined && { isolation: keys.isolation }),
    ...(keys.passEnv !== undefined && { passEnv: keys.passEnv }),
    systemPrompt: frontMatter.body.trim(),
    file,
    path,
    extra,
    warnings,
  };
  return definition;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A key written with no value (`maxConcurrency:`) counts as not set. */
function withoutNulls(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null));
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Claude Code's own keys are lenient: a wrong type is ignored with a warning, never fatal. */
function optionalString(
  data: Record<string, unknown>,
  key: string,
  warnings: string[],
): string | undefined {
  const value = data[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value.trim()) return value.trim();
  warnings.push(`ignored \`${key}\`: expected text, got ${typeOf(value)}`);
  return undefined;
}

function optionalPositiveInt(
  data: Record<string, unknown>,
  key: string,
  warnings: string[],
): number | undefined {
  const value = data[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  warnings.push(`ignored \`${key}\`: expected a positive integer, got ${typeOf(value)}`);
  return undefined;
}
