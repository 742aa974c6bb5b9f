import { z } from 'zod';
import { defineSection, field, int } from '../config-field.util';

export const busSection = defineSection('bus', 'Message bus', {
  transport: field(
    'BUS_TRANSPORT',
    z.enum(['rabbitmq', 'memory']).default('rabbitmq'),
    'rabbitmq for real deployments; memory for single-process mode and unit tests',
  ),
  amqpUrl: field(
    'AMQP_URL',
    z.string().url().default('amqp://guest:guest@127.0.0.1:5672'),
    'RabbitMQ connection URL',
    { secret: true, example: 'amqp://guest:guest@127.0.0.1:5672' },
  ),
  prefetch: field(
    'BUS_PREFETCH',
    int(1, 65535).default(50),
    'Unacknowledged messages per consumer',
  ),
  maxMessageBytes: field(
    'BUS_MAX_MESSAGE_BYTES',
    int(1024).default(1_048_576),
    'Largest message the bus accepts',
  ),
  publishTimeoutMs: field(
    'BUS_PUBLISH_TIMEOUT_MS',
    int(1).default(5000),
    'How long a publish waits for the broker (connection + confirm) before it fails with 503',
  ),
  requestTimeoutMs: field(
    'BUS_REQUEST_TIMEOUT_MS',
    int(1).default(30_000),
    'Default request/response timeout',
  ),
});
