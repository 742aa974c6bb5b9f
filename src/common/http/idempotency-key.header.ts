import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { AppException } from '../errors/app.exception';

/** The HTTP header a client may send its idempotency key in (same meaning as the body field). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const MAX_KEY_LENGTH = 256;

/**
 * Reads the `Idempotency-Key` header of a submit (POST /v1/tasks, /v1/workflows): the key, or
 * undefined when absent. 400 when it is empty, longer than 256 characters or sent twice.
 */
export function idempotencyKeyFromHeader(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    throw AppException.validation('send one Idempotency-Key header, not several', [
      { field: 'Idempotency-Key', message: `sent ${value.length} times` },
    ]);
  }
  const key = value.trim();
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw AppException.validation(`Idempotency-Key must be 1-${MAX_KEY_LENGTH} characters`, [
      { field: 'Idempotency-Key', message: `got ${key.length} characters` },
    ]);
  }
  return key;
}

/**
 * The body with the header's key as its `idempotencyKey` (what the queue dedupes on). A body
 * that carries a different key than the header is refused (400): one request, one key.
 */
export function applyIdempotencyKeyHeader<T extends { idempotencyKey?: string }>(
  body: T,
  headerKey: string | undefined,
): T {
  if (headerKey === undefined) return body;
  if (body.idempotencyKey !== undefined && body.idempotencyKey !== headerKey) {
    throw AppException.validation('the Idempotency-Key header and body.idempotencyKey differ', [
      {
        field: 'idempotencyKey',
        message: `body has '${body.idempotencyKey}', header '${headerKey}'`,
      },
    ]);
  }
  return { ...body, idempotencyKey: headerKey };
}

/** Controller parameter: the request's `Idempotency-Key` header, validated (see above). */
export const IdempotencyKeyHeader = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): string | undefined => {
    const req = ctx
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    return idempotencyKeyFromHeader(req.headers[IDEMPOTENCY_KEY_HEADER]);
  },
);
