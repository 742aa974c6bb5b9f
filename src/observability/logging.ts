import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { ConfigService } from '../config/config.service';
import { traceIds, tracingEnabled } from './tracing';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request id: the caller's `x-request-id` when it is sane, else a new UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-switchyard-task-token"]',
  '*.credential',
  'headers.authorization',
  '*.authorization',
  '*.token',
  '*.password',
  '*.secret',
];

/**
 * A URL for the logs: the path, and the query's parameter names with their values redacted
 * (`?token=...` on any route would otherwise write a bearer token into every log line).
 */
export function redactUrl(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  if (q < 0) return url;
  const names = url
    .slice(q + 1)
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => `${p.split('=')[0].slice(0, 64)}=[redacted]`);
  return `${url.slice(0, q)}?${names.join('&')}`;
}

/** nestjs-pino settings: JSON lines, request id on each line, secrets redacted, trace ids mixed in. */
export function loggerParams(config: ConfigService): Params {
  // Without tracing there are never trace ids: the mixin would run on every line for nothing.
  // No `customProps`: pino-http calls it when a request arrives, before the request's span
  // exists (HttpTraceInterceptor starts it later), so it only built a child logger per request;
  // the mixin puts the active span's ids on every line written inside a span.
  const traced = tracingEnabled(config.observability) ? { mixin: () => traceIds() } : {};
  return {
    pinoHttp: {
      level: config.logging.level,
      autoLogging: config.logging.requestLogs
        ? { ignore: (req) => (req.url ?? '').startsWith('/health') || req.url === '/metrics' }
        : false,
      genReqId: (req) => (req as IncomingMessage & { id?: string }).id ?? requestIdFor(req),
      ...traced,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      transport: config.logging.pretty ? { target: 'pino-pretty' } : undefined,
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
      },
    },
  };
}
