import { z } from 'zod';
import { bool, defineSection, field, int } from '../config-field.util';

export const httpSection = defineSection('http', 'HTTP server', {
  host: field('HOST', z.string().min(1).default('0.0.0.0'), 'Address the HTTP server listens on'),
  port: field('PORT', int(0, 65535).default(3000), 'HTTP port (0 picks a free port)'),
  bodyLimitBytes: field(
    'HTTP_BODY_LIMIT_BYTES',
    int(1024).default(1_048_576),
    'Largest accepted request body; larger bodies get 413',
  ),
  maxJsonDepth: field(
    'HTTP_MAX_JSON_DEPTH',
    int(8, 10_000).default(64),
    'Deepest nesting of arrays/objects a JSON request body may have; deeper bodies get 400',
  ),
  requestTimeoutMs: field(
    'HTTP_REQUEST_TIMEOUT_MS',
    int(1000).default(30_000),
    'A request (headers and body) must arrive within this time; slower clients get 408 and are disconnected',
  ),
  publicUrl: field(
    'PUBLIC_URL',
    z.string().url().optional(),
    'Base URL printed in logs and used by the demo (default http://localhost:PORT)',
  ),
  docsEnabled: field(
    'DOCS_ENABLED',
    bool().default(true),
    'Serve Swagger UI at /docs and the spec at /docs-json',
  ),
  docsRequireAuth: field(
    'DOCS_REQUIRE_AUTH',
    bool().default(false),
    'Require a bearer token for /docs and /docs-json (decided on the matched route, so URL encoding does not bypass it)',
  ),
  metricsRequireAuth: field(
    'METRICS_REQUIRE_AUTH',
    bool().default(false),
    'Require a bearer token for /metrics (Prometheus then needs bearer_token)',
  ),
  shutdownTimeoutMs: field(
    'SHUTDOWN_TIMEOUT_MS',
    int(0).default(10_000),
    'How long shutdown waits for in-flight work before closing connections',
  ),
});
