/** A top-level `key: value` line (no indentation) with a non-empty value. */
const KEY_LINE = /^([A-Za-z_][\w.-]*)[ \t]*:[ \t]+(\S.*)$/;
/** Values starting with these are quoted, block, flow, anchor, alias, tag or comment: left alone. */
const NOT_PLAIN = /^["'|>[{&*!%@`#]/;
/** What makes strict YAML reject a plain scalar: `: ` inside it or a trailing `:`. */
const MAPPING_INDICATOR = /:(?:[ \t]|$)/m;

/**
 * The repair Claude Code effectively applies to hand-written front matter: every top-level
 * `key: value` line whose unquoted (plain) value contains `: ` or ends with `:` — which strict
 * YAML reads as a nested mapping — gets its value double-quoted. Indented continuation lines of
 * that value are folded into it the way YAML folds a plain scalar (lines joined with a space, a
 * blank line becoming a newline). Returns the new text and the keys whose value was quoted (none:
 * the text is unchanged). Only meant to be tried after a strict parse failed.
 */
export function quoteColonValues(yaml: string): { yaml: string; quotedKeys: string[] } {
  const lines = yaml.split('\n');
  const out: string[] = [];
  const quotedKeys: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = KEY_LINE.exec(lines[i]);
    if (!match || NOT_PLAIN.test(match[2])) {
      out.push(lines[i]);
      continue;
    }
    let end = i + 1;
    while (end < lines.length && (lines[end].trim() === '' || /^[ \t]/.test(lines[end]))) end++;
    while (end > i + 1 && lines[end - 1].trim() === '') end--;
    const parts = [match[2], ...lines.slice(i + 1, end)].map((l) => l.trim());
    if (!parts.some((p) => MAPPING_INDICATOR.test(p))) {
      out.push(lines[i]);
      continue;
    }
    out.push(`${match[1]}: ${JSON.stringify(foldPlainLines(parts))}`);
    quotedKeys.push(match[1]);
    i = end - 1;
  }
  return { yaml: out.join('\n'), quotedKeys };
}

/** YAML plain-scalar folding: adjacent lines join with a space, each blank line is a newline. */
function foldPlainLines(parts: string[]): string {
  let folded = '';
  let pendingNewlines = 0;
  for (const part of parts) {
    if (part === '') {
      pendingNewlines++;
      continue;
    }
    if (folded !== '') folded += pendingNewlines > 0 ? '\n'.repeat(pendingNewlines) : ' ';
    folded += part;
    pendingNewlines = 0;
  }
  return folded;
}
