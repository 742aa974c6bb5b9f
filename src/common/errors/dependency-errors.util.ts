/**
 * Recognises errors that mean "a backing service (Redis, RabbitMQ, S3) is unreachable", so the
 * API answers 503 instead of 500.
 */
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'DependencyUnavailableError']);
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
const UNAVAILABLE_MESSAGES = [
  "Stream isn't writeable",
  'Connection is closed',
  'Command timed out',
  'enableOfflineQueue',
  'Reached the max retries per request limit',
];

export function isDependencyUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (UNAVAILABLE_NAMES.has(err.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  return UNAVAILABLE_MESSAGES.some((m) => err.message.includes(m));
}
