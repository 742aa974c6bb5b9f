import { readFileSync } from 'node:fs';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';

/** Prints `data` as JSON with `--json`, else the human rendering. */
export function output(json: boolean | undefined, data: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : human());
}

/** Reads a JSON document from a file, or from stdin when `file` is `-`. */
export function readJsonInput(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, EXIT.usage);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(
      `${file === '-' ? 'stdin' : file}: not valid JSON: ${(e as Error).message}`,
      EXIT.usage,
    );
  }
}

/** The items of a list response: `{items: [...]}` (our Page) or a bare array. */
export function itemsOf<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  const items = (body as { items?: unknown } | null)?.items;
  return Array.isArray(items) ? (items as T[]) : [];
}

export const enc = encodeURIComponent;
