import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../src/app.module';
import { loadConfig } from '../src/config/load-config';
import { buildOpenApiDocument } from '../src/http-server/openapi';

/**
 * Renders the OpenAPI document without connecting to anything: the app module is compiled but
 * never initialised (no Redis, no RabbitMQ), which is all Swagger needs to read the controllers.
 */
export async function renderOpenApiJson(): Promise<string> {
  const values = loadConfig({ LOG_LEVEL: 'silent', BUS_TRANSPORT: 'memory' });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(values)],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
    logger: false,
  });
  const document = buildOpenApiDocument(app);
  return `${JSON.stringify(document, null, 2)}\n`;
}
