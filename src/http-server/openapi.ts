import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';

/** Builds the OpenAPI document from the controllers (the committed openapi/openapi.json is this). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Switchyard')
    .setDescription(
      'Control plane for teams of AI agents: discovery, message bus, prioritized DAG task queue, ' +
        'circuit breakers, distributed state and live status. Every /v1 route needs ' +
        '`Authorization: Bearer <token>`. Errors always have the shape ' +
        '`{"error":{"code","message","details","requestId"}}`.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'An API key (SWITCHYARD_ADMIN_TOKEN or SWITCHYARD_API_KEYS)',
    })
    .addSecurityRequirements('bearer')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey, methodKey) =>
      `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
  return cleanupOpenApiDoc(document);
}

/** Serves Swagger UI at /docs and the JSON at /docs-json. */
export function setupSwagger(app: INestApplication, document: OpenAPIObject): void {
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    swaggerOptions: { persistAuthorization: true },
  });
}
