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
    sampleRatio: values.observability.traceSampleRatio,
  });
  const adapter = new FastifyAdapter({
    bodyLimit: values.http.bodyLimitBytes,
    genReqId: requestIdFor,
    logger: false,
    trustProxy: true,
  });
  const fastify: FastifyInstance = adapter.getInstance();
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
    },
  );
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  // The live feed (/v1/live, src/gateway) is a plain WebSocket on the same port: WsAdapter takes
  // the Node server's `upgrade` events, which Fastify leaves alone.
  app.useWebSocketAdapter(new WsAdapter(app));
  const errorLogger = new NestLogger('HttpError');
  // Fastify-level errors (body too large, malformed JSON) reach AllExceptionsFilter through the
  // error handler Nest installs at init, so they get the same error shape.

  const config = app.get(ConfigService);
  if (config.http.docsEnabled) {
    if (config.http.docsRequireAuth) {
      const keys = app.get(ApiKeyService);
      fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        if (!request.url.startsWith('/docs')) return;
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
