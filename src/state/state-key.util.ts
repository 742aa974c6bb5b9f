import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import type { ConflictStrategy } from '../config/sections/state.config';

export const MAX_KEY_LENGTH = 256;
const SEGMENT = '[A-Za-z0-9][A-Za-z0-9._-]*';
const KEY = new RegExp(`^${SEGMENT}(/${SEGMENT})*$`);

/**
 * Checks a document key: `/`-separated segments of letters, digits, `.`, `_`, `-`, each starting
 * with a letter or digit (so no empty, `.` or `..` segment), at most 256 characters.
 */
export function assertValidKey(key: string, field = 'key'): string {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
    throw AppException.validation(`Invalid state key '${key.slice(0, 300)}'`, [
      {
        field,
        message: `1-${MAX_KEY_LENGTH} characters: '/'-separated segments of [A-Za-z0-9._-], each starting with a letter or digit`,
      },
    ]);
  }
  return key;
}

/** A key prefix for listing: empty, or a valid key optionally followed by `/`. */
export function assertValidPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (body === '' || body.length >= MAX_KEY_LENGTH || !KEY.test(body)) {
    throw AppException.validation(`Invalid state key prefix '${prefix.slice(0, 300)}'`, [
      { field: 'prefix', message: 'a key or the start of one, like `project/` or `project/al`' },
    ]);
  }
  return prefix;
}

/**
 * Parses an `If-Match` header into a version: accepts `"3"`, `3` and `W/"3"`; `*` means any
 * existing version (returned as `'*'`). Undefined when the header is absent.
 */
export function parseIfMatch(header: string | string[] | undefined): number | '*' | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (value === '*') return '*';
  const match = /^(?:W\/)?"(\d{1,15})"$/.exec(value) ?? /^(\d{1,15})$/.exec(value);
  if (!match) {
    throw new AppException(
      ErrorCode.BadRequest,
      `If-Match must be a document version such as "3", 3 or W/"3"; got '${value.slice(0, 100)}'`,
      { header: 'if-match' },
    );
  }
  return Number(match[1]);
}

/** The ETag of a version: `"3"`. */
export const etagFor = (version: number): string => `"${version}"`;

/**
 * The conflict strategy for a key: the longest configured namespace that is the key itself or a
 * `/`-prefix of it, else the default.
 */
export function strategyFor(
  key: string,
  strategies: Record<string, ConflictStrategy>,
  fallback: ConflictStrategy,
): ConflictStrategy {
  let best: string | undefined;
  for (const ns of Object.keys(strategies)) {
    if ((key === ns || key.startsWith(`${ns}/`)) && (best === undefined || ns.length > best.length))
      best = ns;
  }
  return best === undefined ? fallback : (strategies[best] ?? fallback);
}
