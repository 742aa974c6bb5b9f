import { ErrorCode, httpStatusFor } from './error-code.enum';

/**
 * A domain error with a stable code. Business code throws these; the exception filter turns
 * them into `{"error":{"code","message","details","requestId"}}` with the status of the code.
 */
export class AppException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppException';
  }

  get status(): number {
    return httpStatusFor(this.code);
  }

  static notFound(what: string, id: string): AppException {
    return new AppException(ErrorCode.NotFound, `${what} '${id}' not found`, { [what]: id });
  }

  static validation(message: string, fields: FieldProblem[]): AppException {
    return new AppException(ErrorCode.ValidationFailed, message, { fields });
  }

  static unavailable(dependency: string, message: string, cause?: unknown): AppException {
    return new AppException(ErrorCode.DependencyUnavailable, message, { dependency }, { cause });
  }
}

/** One bad input field, as reported in `details.fields`. */
export interface FieldProblem {
  /** Dotted path of the field, e.g. `tasks.1.dependsOn.0`; empty for the whole body. */
  field: string;
  message: string;
}
