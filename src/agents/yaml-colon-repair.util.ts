/** A top-level `key: value` line, as Claude Code matches it. */
const KEY_LINE = /^([a-zA-Z_-]+):\s+(\S.*)$/;
/** Characters that make Claude Code quote a value: YAML indicators, a backtick, or `: `. */
const NEEDS_QUOTES = /[{}[\]*&#!|>%@`]|: /;

function alreadyQuoted(value: string): boolean {
  return value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0];
}

function isFlowArray(value: string, parse: (yaml: string) => unknown): boolean {
  if (!value.startsWith('[') || !value.endsWith(']')) return false;
  try {
    return Array.isArray(parse(value));
  } catch {
    return false;
  }
}

/**
 * The rewrite Claude Code (2.1.33x) applies to front matter whose YAML does not parse, line by
 * line: a line `key: V` (key of letters, `_`, `-`) whose value V is not already quoted (same
 * quote at both ends) and is not a `[…]` that parses as a list, and that contains any of
 * `{ } [ ] * & # ! | > % @`, a backtick or `: `, becomes `key: "V"` (with `\` and `"`
 * escaped); leading tabs become two spaces each; every other line is kept as it is. Returns the
 * new text and the keys whose value was quoted. `parse` is the YAML parser (to recognise lists).
 */
export function quoteColonValues(
  yaml: string,
  parse: (yaml: string) => unknown,
): { yaml: string; quotedKeys: string[] } {
  const quotedKeys: string[] = [];
  const out = yaml.split('\n').map((raw) => {
    const line = raw.replace(/^\t+/, (tabs) => '  '.repeat(tabs.length));
    const match = KEY_LINE.exec(line);
    if (!match) return line;
    const [, key, value] = match;
    if (alreadyQuoted(value) || isFlowArray(value, parse) || !NEEDS_QUOTES.test(value)) {
      return line;
    }
    quotedKeys.push(key);
    return `${key}: "${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return { yaml: out.join('\n'), quotedKeys };
}
