import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Logger as NestLogger, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from '../app.module';
import { ApiKeyService } from '../auth/api-key.service';
import { bearerToken } from '../auth/auth.guard';
import { AppException } from '../common/errors/app.exception';
import { sendError } from '../common/errors/all-exceptions.filter';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import { type AppConfigValues, type Env, loadConfig } from '../config/load-config';
import { requestIdFor } from '../observability/logging';
import { setupTracing, tracingEnabled } from '../observability/tracing';
import { buildOpenApiDocument, setupSwagger } from './openapi';
import { jsonDepthExceeds } from './safe-json.util';

/** Routes of the API docs (Swagger UI and the spec), as Fastify matched them. */
function isDocsRoute(route: string | undefined): boolean {
  return route !== undefined && (route === '/docs' || /^\/docs[-/]/.test(route));
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers over the limit, a
 * request that took longer than HTTP_REQUEST_TIMEOUT_MS, a malformed request line): answered in
 * the documented error shape, without echoing anything the client sent.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, ErrorCode.HeadersTooLarge, 'Request line and headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, ErrorCode.RequestTimeout, 'The request was not received in time']
        : [400, ErrorCode.BadRequest, 'Malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message, requestId: randomUUID() } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export interface CreateAppOptions {
  /** Environment to read settings from (default: process.env). */
  env?: Env;
  /** Already-validated settings (tests); wins over `env`. */
  config?: AppConfigValues;
  /** Extra modules (e.g. test-only controllers). */
  modules?: (Type | DynamicModule)[];
  /** Buffer Nest's boot logs until the pino logger is attached (default true). */
  bufferLogs?: boolean;
}

/** Builds the control-plane app, fully wired and initialised, but not listening. */
export async function createApp(options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const values = options.config ?? loadConfig(options.env ?? process.env);
  setupTracing({
    enabled: tracingEnabled(values.observability),
    serviceName: values.observability.serviceName,
    otlpEndpoint: values.observability.otlpEndpoint,
    otlpProtocol: values.observability.otlpProtocol,
    sampleRatio: values.observability.traceSampleRatio,
  });
  const errorLogger = new NestLogger('HttpError');
  const adapter = new FastifyAdapter({
    bodyLimit: values.http.bodyLimitBytes,
    genReqId: requestIdFor,
    logger: false,
    trustProxy: true,
    // Slow clients: the request line and headers must arrive within this time (Node checks every
    // second); the body has its own deadline (bodyDeadline below).
    requestTimeout: values.http.requestTimeoutMs,
    http: { connectionsCheckingInterval: 1000 },
    clientErrorHandler,
    // Errors Fastify raises before routing (a URL with bad percent-encoding or UTF-8): the
    // documented error shape, and the URL is not echoed back.
    frameworkErrors: (_error: Error, request: FastifyRequest, reply: FastifyReply) => {
      sendError(
        reply,
        request,
        new AppException(
          ErrorCode.BadRequest,
          'The request URL is not valid (bad percent-encoding or UTF-8)',
        ),
        errorLogger,
      );
    },
  });
  const fastify: FastifyInstance = adapter.getInstance();
  registerJsonParsers(fastify, values.http.maxJsonDepth);
  addBodyDeadline(fastify, values.http.requestTimeoutMs);
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    (request.raw as typeof request.raw & { id?: string }).id = String(request.id);
    void reply.header('x-request-id', String(request.id));
  });

  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(values, options.modules ?? []),
    adapter,
    {
      bufferLogs: options.bufferLogs ?? true,
      abortOnError: false,
      // The JSON parsers are ours (registerJsonParsers): depth-capped and prototype-safe.
      bodyParser: false,
    },
  );
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  // The live feed (/v1/live, src/gateway) is a plain WebSocket on the same port: WsAdapter takes
  // the Node server's `upgrade` events, which Fastify leaves alone.
  app.useWebSocketAdapter(new WsAdapter(app));
  // Fastify-level errors (body too large, malformed JSON) reach AllExceptionsFilter through the
  // error handler Nest installs at init, so they get the same error shape.

  const config = app.get(ConfigService);
  if (config.http.docsEnabled) {
    if (config.http.docsRequireAuth) {
      const keys = app.get(ApiKeyService);
      fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        // Decided on the route Fastify matched, not on the raw URL: `/%64ocs-json` routes to
        // `/docs-json` too.
        if (!isDocsRoute(request.routeOptions.url)) return;
        const token = bearerToken(request.headers.authorization);
        if (!keys.disabled && (!token || !keys.verify(token))) {
          sendError(
            reply,
            request,
            new AppException(ErrorCode.Unauthenticated, 'The API docs need a bearer token'),
            errorLogger,
          );
          return reply;
        }
        return undefined;
      });
    }
    setupSwagger(app, buildOpenApiDocument(app));
  }
  await app.init();
  await fastify.ready();
  return app;
}

/**
 * `application/json` everywhere and `application/merge-patch+json` on state PATCH only, both
 * through Fastify's secure parser (a `__proto__` or `constructor.prototype` key is a 400) after a
 * nesting-depth check (deeper than `maxDepth` is a 400, not a stack overflow).
 */
function registerJsonParsers(fastify: FastifyInstance, maxDepth: number): void {
  const secureParse = fastify.getDefaultJsonParser('error', 'error');
  const parse = (
    request: FastifyRequest,
    body: string,
    done: (err: Error | null, body?: unknown) => void,
  ): void => {
    if (jsonDepthExceeds(body, maxDepth)) {
      done(
        new AppException(
          ErrorCode.BadRequest,
          `JSON body nests deeper than ${maxDepth} levels (HTTP_MAX_JSON_DEPTH)`,
          { maxDepth },
        ),
      );
      return;
    }
    void secureParse(request, body, done);
  };
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    parse(request, body as string, done),
  );
  fastify.addContentTypeParser(
    'application/merge-patch+json',
    { parseAs: 'string' },
    (request, body, done) => {
      if (request.method !== 'PATCH' || request.routeOptions.url !== '/v1/state/*') {
        done(
          new AppException(
            ErrorCode.UnsupportedMediaType,
            'application/merge-patch+json is accepted only by PATCH /v1/state/{path}; send application/json',
          ),
        );
        return;
      }
      parse(request, body as string, done);
    },
  );
}

/**
 * A request body must arrive within `timeoutMs` of the request's start (Node's requestTimeout
 * does not cover a body trickling in after the headers). On the deadline the body stream fails
 * with REQUEST_TIMEOUT, which the parser hands to the error filter (408), and the connection is
 * closed after the answer.
 */
function addBodyDeadline(fastify: FastifyInstance, timeoutMs: number): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    const hasBody =
      raw.headers['transfer-encoding'] !== undefined ||
      Number(raw.headers['content-length'] ?? 0) > 0;
    if (raw.complete || !hasBody) {
      done();
      return;
    }
    const timer = setTimeout(() => {
      if (raw.complete || reply.sent) return;
      // Nobody reads the body (no parser attached): just drop the connection.
      if (raw.listenerCount('error') === 0) {
        raw.socket.destroy();
        return;
      }
      void reply.header('connection', 'close');
      raw.emit(
        'error',
        new AppException(
          ErrorCode.RequestTimeout,
          `The request body did not arrive within ${timeoutMs} ms (HTTP_REQUEST_TIMEOUT_MS)`,
        ),
      );
    }, timeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    raw.once('end', clear);
    reply.raw.once('close', clear);
    done();
  });
}

/** Creates the app and listens on HOST:PORT; returns the app and its base URL. */
export async function startServer(
  options: CreateAppOptions = {},
): Promise<{ app: NestFastifyApplication; url: string }> {
  const app = await createApp(options);
  const config = app.get(ConfigService);
  await app.listen(config.http.port, config.http.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const url = config.http.publicUrl ?? `http://localhost:${port}`;
  return { app, url };
}
