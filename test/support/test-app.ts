import { randomBytes } from 'node:crypto';
import type { DynamicModule, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type Env, loadConfig } from '../../src/config/load-config';
import { createApp } from '../../src/http-server/create-app';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A unique Redis key prefix per test file/app, so tests never see each other's keys. */
export function uniquePrefix(label = 't'): string {
  return `sytest:${label}:${randomBytes(4).toString('hex')}:`;
}

export interface TestApp {
  app: NestFastifyApplication;
  /** Pass to supertest: `request(t.server)`. */
  server: ReturnType<NestFastifyApplication['getHttpServer']>;
  prefix: string;
  close(): Promise<void>;
}

/**
 * Boots the real control plane (real Redis at REDIS_URL) with its own key prefix and an admin
 * token, ready for supertest. The memory bus is the default here so HTTP tests need no broker;
 * pass BUS_TRANSPORT=rabbitmq to use the real one.
 */
export async function startTestApp(
  env: Env = {},
  modules: (Type | DynamicModule)[] = [],
): Promise<TestApp> {
  const prefix = env.REDIS_KEY_PREFIX ?? uniquePrefix();
  const config = loadConfig({
    REDIS_URL: process.env.REDIS_URL,
    AMQP_URL: process.env.AMQP_URL,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    BUS_TRANSPORT: 'memory',
    PORT: '0',
    ...env,
    REDIS_KEY_PREFIX: prefix,
  });
  const app = await createApp({ config, modules });
  return {
    app,
    server: app.getHttpServer(),
    prefix,
    close: async () => {
      await app.close();
    },
  };
}

export const auth = (token = ADMIN_TOKEN) => ({ Authorization: `Bearer ${token}` });
