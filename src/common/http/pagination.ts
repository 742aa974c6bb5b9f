import { z } from 'zod';

/** Opaque cursor pagination used by every list endpoint. */
export const paginationQuery = {
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('Page size (1-1000)'),
  cursor: z.string().max(512).optional().describe("Cursor from the previous page's nextCursor"),
};

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export function encodeCursor(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  return Buffer.from(cursor, 'base64url').toString('utf8');
}
