import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toMappedError } from '../common/errors/to-error-body.util';

/** A successful tool result: the value as JSON text, and as structured content when an object. */
export function toolOk(value: unknown): CallToolResult {
  const text = JSON.stringify(value ?? null);
  const structured =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  return {
    content: [{ type: 'text', text }],
    ...(structured ? { structuredContent: structured } : {}),
  };
}

/**
 * A tool error with the REST error body (`{"error":{"code","message","details"}}`): the same
 * codes and messages a REST client gets for the same mistake.
 */
export function toolError(err: unknown): { result: CallToolResult; unexpected: boolean } {
  const mapped = toMappedError(err);
  const error = {
    code: mapped.code,
    message: mapped.unexpected ? 'Internal error' : mapped.message,
    status: mapped.status,
    ...(mapped.details !== undefined && !mapped.unexpected ? { details: mapped.details } : {}),
  };
  return {
    result: {
      isError: true,
      content: [{ type: 'text', text: JSON.stringify({ error }) }],
      structuredContent: { error },
    },
    unexpected: mapped.unexpected,
  };
}
