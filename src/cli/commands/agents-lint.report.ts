import type { AgentDefinition, AgentLoadResult } from '../../agents/agent-definition.type';
import { renderTable } from '../table.util';

/** One loaded agent in `agents lint --json`. */
export interface AgentsLintEntry {
  name: string;
  file: string;
  capabilities: string[];
  /** The allowed tools, or `null` when the file allows all tools (no `tools` key, or `*`). */
  tools: string[] | null;
  model: string | null;
  executor: AgentDefinition['executor'];
  warnings: string[];
}

/** The single JSON object `agents lint --json` prints. */
export interface AgentsLintJson {
  loaded: AgentsLintEntry[];
  skipped: { file: string; reason: string }[];
}

export function toAgentsLintJson(result: AgentLoadResult): AgentsLintJson {
  return {
    loaded: result.loaded.map((a) => ({
      name: a.name,
      file: a.file,
      capabilities: a.capabilities,
      tools: a.tools ?? null,
      model: a.model ?? null,
      executor: a.executor,
      warnings: a.warnings ?? [],
    })),
    skipped: result.skipped.map(({ file, reason }) => ({ file, reason })),
  };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The human-readable report of `agents lint` (without `--json`), ending with a summary line. */
export function formatAgentsLintReport(result: AgentLoadResult, dir: string): string {
  const lines: string[] = [];
  if (result.loaded.length > 0) {
    lines.push(
      renderTable(
        ['name', 'file', 'executor', 'model', 'tools', 'capabilities'],
        result.loaded.map((a) => [
          a.name,
          a.file,
          a.executor,
          a.model,
          a.tools === undefined ? '(all)' : a.tools.length === 0 ? '(none)' : a.tools.join(','),
          a.capabilities.join(','),
        ]),
      ),
    );
  }
  if (result.skipped.length > 0) {
    lines.push(
      'Skipped:\n' +
        renderTable(
          ['file', 'reason'],
          result.skipped.map((s) => [s.file, s.reason]),
        ),
    );
  }
  const warnings = result.loaded.flatMap((a) => (a.warnings ?? []).map((w) => [a.file, w]));
  if (warnings.length > 0) lines.push('Warnings:\n' + renderTable(['file', 'warning'], warnings));
  lines.push(
    `${plural(result.loaded.length, 'agent', 'agents')} loaded, ` +
      `${plural(result.skipped.length, 'file', 'files')} skipped, ` +
      `${plural(warnings.length, 'warning', 'warnings')} in ${dir}`,
  );
  return `${lines.join('\n')}\n`;
}
