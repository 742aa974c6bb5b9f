import { parse, YAMLParseError } from 'yaml';
import { quoteColonValues } from './yaml-colon-repair.util';

/** The outcome of reading a Markdown file's YAML front matter. */
export type FrontMatter =
  /** The file does not start with a `---` line. */
  | { status: 'absent' }
  /** It starts with `---` but no closing `---` line follows. */
  | { status: 'unclosed' }
  /** The YAML does not parse, even after {@link quoteColonValues}. */
  | { status: 'invalid'; error: string }
  /**
   * `data` is whatever the YAML held (null when empty); `body` is the text after the block;
   * `quotedKeys` lists keys whose value had to be quoted to parse (empty for strict YAML).
   */
  | { status: 'ok'; data: unknown; body: string; quotedKeys: string[] };

/**
 * Splits a Markdown file into YAML front matter and body and parses the YAML. Tolerates a BOM,
 * CRLF or CR line endings and trailing spaces on the `---` lines. When strict YAML fails, retries
 * once with values containing `: ` quoted (see {@link quoteColonValues}); if that also fails the
 * error of the strict parse is reported, with line numbers counted in the whole file.
 */
export function parseFrontMatter(text: string): FrontMatter {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  if (lines[0].trimEnd() !== '---') return { status: 'absent' };
  const close = lines.findIndex((line, i) => i > 0 && line.trimEnd() === '---');
  if (close < 0) return { status: 'unclosed' };
  const yaml = lines.slice(1, close).join('\n');
  const body = lines.slice(close + 1).join('\n');
  try {
    return { status: 'ok', data: parseYaml(yaml), body, quotedKeys: [] };
  } catch (strictError) {
    const repaired = quoteColonValues(yaml);
    if (repaired.quotedKeys.length > 0) {
      try {
        return {
          status: 'ok',
          data: parseYaml(repaired.yaml),
          body,
          quotedKeys: repaired.quotedKeys,
        };
      } catch {
        // Report the strict parse's error: it points at the line the author wrote.
      }
    }
    return { status: 'invalid', error: describeYamlError(strictError) };
  }
}

function parseYaml(yaml: string): unknown {
  return parse(yaml, { prettyErrors: true });
}

/** First line of the YAML error with its position translated to a line of the file (`---` is line 1). */
function describeYamlError(error: unknown): string {
  if (!(error instanceof YAMLParseError))
    return error instanceof Error ? error.message : String(error);
  const message = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const pos = error.linePos?.[0];
  return pos ? `${message} (line ${pos.line + 1}, column ${pos.col})` : message;
}
