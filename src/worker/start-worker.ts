import { resolve } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { type AppConfigValues, type Env, loadConfig } from '../config/load-config';
import { setupTracing, tracingEnabled } from '../observability/tracing';
import { WorkerProcessModule } from './worker-process.module';
import { WorkerService } from './worker.service';

export interface StartWorkerOptions {
  agentsDir: string;
  env?: Env;
  config?: AppConfigValues;
}

/** Boots a worker (application context, no HTTP server) hosting the agents of `agentsDir`. */
export async function startWorker(
  options: StartWorkerOptions,
): Promise<{ app: INestApplicationContext; worker: WorkerService }> {
  const values = options.config ?? loadConfig(options.env ?? process.env);
  setupTracing({
    enabled: tracingEnabled(values.observability),
    serviceName: `${values.observability.serviceName}-worker`,
    otlpEndpoint: values.observability.otlpEndpoint,
    otlpProtocol: values.observability.otlpProtocol,
    sampleRatio: values.observability.traceSampleRatio,
  });
  const app = await NestFactory.createApplicationContext(
    WorkerProcessModule.forRoot(values, resolve(options.agentsDir)),
    { bufferLogs: true, abortOnError: false },
  );
  app.useLogger(app.get(Logger));
  await app.init();
  return { app, worker: app.get(WorkerService) };
}
