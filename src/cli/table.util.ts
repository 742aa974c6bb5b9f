export type Cell = string | number | boolean | null | undefined;

function text(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '-';
  return String(cell);
}

/** Renders rows as a plain-text table with a header and aligned columns (no dependencies). */
export function renderTable(headers: string[], rows: Cell[][]): string {
  const cells = rows.map((r) => headers.map((_, i) => text(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)];
  return `${out.join('\n')}\n`;
}

/** Renders an object as `key: value` lines, nested objects flattened with dots. */
export function renderKeyValues(value: Record<string, unknown>): string {
  const rows: [string, string][] = [];
  const walk = (prefix: string, v: unknown): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        walk(prefix ? `${prefix}.${k}` : k, child);
      }
      return;
    }
    const shown = Array.isArray(v)
      ? v.every((x) => typeof x !== 'object' || x === null)
        ? v.join(', ')
        : JSON.stringify(v)
      : text(v as Cell);
    rows.push([prefix, shown]);
  };
  walk('', value);
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join('\n') + '\n';
}

/** `1.2s`, `350ms`, `2m03s`. */
export function formatDuration(ms: number | undefined): string | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return undefined;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}
