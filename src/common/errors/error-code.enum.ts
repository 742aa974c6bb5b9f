/** Every error code a client can see. The HTTP status for each is fixed in {@link httpStatusFor}. */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  BadRequest = 'BAD_REQUEST',
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  Conflict = 'CONFLICT',
  /** A delegated task would break a delegation-tree limit (depth, children, cycle). */
  DelegationLimit = 'DELEGATION_LIMIT',
  /** The task tree or workflow has no budget left for more work. */
  BudgetExceeded = 'BUDGET_EXCEEDED',
  PreconditionFailed = 'PRECONDITION_FAILED',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  UriTooLong = 'URI_TOO_LONG',
  HeadersTooLarge = 'HEADERS_TOO_LARGE',
  RequestTimeout = 'REQUEST_TIMEOUT',
  PreconditionRequired = 'PRECONDITION_REQUIRED',
  TooManyRequests = 'TOO_MANY_REQUESTS',
  Internal = 'INTERNAL',
  DependencyUnavailable = 'DEPENDENCY_UNAVAILABLE',
  Timeout = 'TIMEOUT',
}

export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.ValidationFailed:
    case ErrorCode.BadRequest:
      return 400;
    case ErrorCode.Unauthenticated:
      return 401;
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.NotFound:
      return 404;
    case ErrorCode.Conflict:
      return 409;
    case ErrorCode.BudgetExceeded:
      return 402;
    case ErrorCode.DelegationLimit:
      return 422;
    case ErrorCode.PreconditionFailed:
      return 412;
    case ErrorCode.PayloadTooLarge:
      return 413;
    case ErrorCode.UnsupportedMediaType:
      return 415;
    case ErrorCode.UriTooLong:
      return 414;
    case ErrorCode.HeadersTooLarge:
      return 431;
    case ErrorCode.RequestTimeout:
      return 408;
    case ErrorCode.PreconditionRequired:
      return 428;
    case ErrorCode.TooManyRequests:
      return 429;
    case ErrorCode.Internal:
      return 500;
    case ErrorCode.DependencyUnavailable:
      return 503;
    case ErrorCode.Timeout:
      return 504;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

export function errorCodeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.BadRequest;
    case 401:
      return ErrorCode.Unauthenticated;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.NotFound;
    case 402:
      return ErrorCode.BudgetExceeded;
    case 409:
      return ErrorCode.Conflict;
    case 422:
      return ErrorCode.DelegationLimit;
    case 412:
      return ErrorCode.PreconditionFailed;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 415:
      return ErrorCode.UnsupportedMediaType;
    case 414:
      return ErrorCode.UriTooLong;
    case 431:
      return ErrorCode.HeadersTooLarge;
    case 408:
      return ErrorCode.RequestTimeout;
    case 428:
      return ErrorCode.PreconditionRequired;
    case 429:
      return ErrorCode.TooManyRequests;
    case 503:
      return ErrorCode.DependencyUnavailable;
    case 504:
      return ErrorCode.Timeout;
    default:
      return status >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest;
  }
}
