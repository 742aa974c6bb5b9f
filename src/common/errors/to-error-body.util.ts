import { HttpException } from '@nestjs/common';
import { ZodError } from 'zod';
import { AppException } from './app.exception';
import { isDependencyUnavailable } from './dependency-errors.util';
import { ErrorCode, errorCodeForStatus, httpStatusFor } from './error-code.enum';
import { zodProblems } from './zod-problems.util';

export interface MappedError {
  status: number;
  code: ErrorCode | string;
  message: string;
  details?: unknown;
  /** True when the error is unexpected and must be logged with its stack. */
  unexpected: boolean;
}

const FASTIFY_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: ErrorCode.PayloadTooLarge,
    message: 'Request body is too large',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: ErrorCode.UnsupportedMediaType,
    message: 'Unsupported Content-Type; send application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: ErrorCode.BadRequest,
    message: "Body cannot be empty when content-type is 'application/json'",
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: ErrorCode.BadRequest },
};

/** Maps anything thrown while serving a request to a status, a code and a client-safe message. */
export function toMappedError(err: unknown): MappedError {
  if (err instanceof AppException) {
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      details: err.details,
      unexpected: false,
    };
  }
  if (err instanceof ZodError) {
    return {
      status: 400,
      code: ErrorCode.ValidationFailed,
      message: 'Request validation failed',
      details: { fields: zodProblems(err) },
      unexpected: false,
    };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const response = err.getResponse();
    let message = err.message;
    if (typeof response === 'object' && response !== null && 'message' in response) {
      const m = response.message;
      message = Array.isArray(m) ? m.join('; ') : String(m);
    }
    return { status, code: errorCodeForStatus(status), message, unexpected: status >= 500 };
  }
  const fastifyCode = (err as { code?: unknown } | null)?.code;
  if (typeof fastifyCode === 'string' && fastifyCode in FASTIFY_CODES) {
    const known = FASTIFY_CODES[fastifyCode];
    return {
      status: httpStatusFor(known.code),
      code: known.code,
      message: known.message ?? (err as Error).message,
      unexpected: false,
    };
  }
  if (err instanceof SyntaxError && (err as { statusCode?: number }).statusCode === 400) {
    return {
      status: 400,
      code: ErrorCode.BadRequest,
      message: `Malformed JSON: ${err.message}`,
      unexpected: false,
    };
  }
  if (isDependencyUnavailable(err)) {
    return {
      status: 503,
      code: ErrorCode.DependencyUnavailable,
      message: 'A backing service is unavailable; retry later',
      details: { reason: (err as Error).message },
      unexpected: false,
    };
  }
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return {
      status: statusCode,
      code: errorCodeForStatus(statusCode),
      message: (err as Error).message,
      unexpected: false,
    };
  }
  return {
    status: 500,
    code: ErrorCode.Internal,
    message: 'Internal server error',
    unexpected: true,
  };
}
