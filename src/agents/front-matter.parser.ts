import { parse, YAMLParseError } from 'yaml';
import { quoteColonValues } from './yaml-colon-repair.util';

/** The outcome of reading a Markdown file's YAML front matter. */
export type FrontMatter =
  /** The file does not start with a `---` line. */
  | { status: 'absent' }
  /** It starts with `---` but no closing `---` follows. */
  | { status: 'unclosed' }
  /** The YAML does not parse, even after {@link quoteColonValues}. */
  | { status: 'invalid'; error: string }
  /**
   * `data` is whatever the YAML held (null when empty); `body` is the text after the block;
   * `quotedKeys` lists keys whose value had to be quoted to parse (empty for strict YAML).
   */
  | { status: 'ok'; data: unknown; body: string; quotedKeys: string[] };

/** Claude Code's front-matter block: from a first line `---` to the next `---`. */
const BLOCK = /^---\s*\n([\s\S]*?)---\s*\n?/;

/**
 * Splits a Markdown file into YAML front matter and body and parses the YAML exactly as Claude
 * Code (2.1.33x) does: the block is what {@link BLOCK} matches (no match → no front matter);
 * it is parsed as YAML with duplicate keys allowed (the last wins); if that fails it is rewritten
 * line by line ({@link quoteColonValues}) and parsed again; if that fails too, the file is
 * invalid with the parser's message (line numbers counted in the whole file: the rewrite keeps
 * lines in place). We also accept a BOM and CRLF/CR line endings (normalised first).
 */
export function parseFrontMatter(text: string): FrontMatter {
  const normalized = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const match = BLOCK.exec(normalized);
  if (!match) {
    return /^---[ \t]*\n/.test(normalized) ? { status: 'unclosed' } : { status: 'absent' };
  }
  const yaml = match[1];
  const body = normalized.slice(match[0].length);
  try {
    return { status: 'ok', data: parseYaml(yaml), body, quotedKeys: [] };
  } catch {
    const repaired = quoteColonValues(yaml, parseYaml);
    try {
      return {
        status: 'ok',
        data: parseYaml(repaired.yaml),
        body,
        quotedKeys: repaired.quotedKeys,
      };
    } catch (error) {
      return { status: 'invalid', error: describeYamlError(error) };
    }
  }
}

function parseYaml(yaml: string): unknown {
  return parse(yaml, { prettyErrors: true, uniqueKeys: false });
}

/** First line of the YAML error with its position translated to a line of the file (`---` is line 1). */
function describeYamlError(error: unknown): string {
  if (!(error instanceof YAMLParseError))
    return error instanceof Error ? error.message : String(error);
  const message = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const pos = error.linePos?.[0];
  return pos ? `${message} (line ${pos.line + 1}, column ${pos.col})` : message;
}
