import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { BusModule } from '../../../src/bus/bus.module';
import { MemoryMessageBus } from '../../../src/bus/memory.transport';
import { MessageBus } from '../../../src/bus/message-bus';
import { QueueTypeMismatchError } from '../../../src/bus/rabbitmq/amqp.util';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { ConfigModule } from '../../../src/config/config.module';
import { loadConfig } from '../../../src/config/load-config';
import { ReadinessRegistry } from '../../../src/observability/health/readiness.registry';
import { MetricsService } from '../../../src/observability/metrics.service';
import { deleteBusObjects, uniqueNamespace } from '../../support/amqp-cleanup';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

@Global()
@Module({
  providers: [MetricsService, ReadinessRegistry],
  exports: [MetricsService, ReadinessRegistry],
})
class ObservabilityForTest {}

async function boot(env: Record<string, string>) {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot({ values: loadConfig(env) }), ObservabilityForTest, BusModule],
  }).compile();
  // An application context (no HTTP adapter): runs onModuleInit and the shutdown hooks.
  const app = await moduleRef.init();
  return {
    app,
    bus: app.get(MessageBus),
    ready: () => app.get(ReadinessRegistry).run(),
  };
}

describe('BusModule', () => {
  it('provides the memory transport with BUS_TRANSPORT=memory and reports it up', async () => {
    const { app, bus, ready } = await boot({ BUS_TRANSPORT: 'memory' });
    expect(bus).toBeInstanceOf(MemoryMessageBus);
    expect(bus.state).toBe('connected');
    const r = await ready();
    expect(r.checks.rabbitmq).toEqual({ status: 'up', transport: 'memory', state: 'connected' });
    await app.close();
    expect(bus.state).toBe('closed');
  });

  it('connects to RabbitMQ on init, reports up, and closes on shutdown', async () => {
    const namespace = uniqueNamespace('module');
    const { app, bus, ready } = await boot({
      BUS_TRANSPORT: 'rabbitmq',
      AMQP_URL,
      BUS_NAMESPACE: namespace,
      BUS_INSTANCE_ID: 'module-test',
    });
    try {
      expect(bus).toBeInstanceOf(RabbitMqMessageBus);
      expect((await ready()).checks.rabbitmq).toMatchObject({ status: 'up', state: 'connected' });
    } finally {
      await app.close();
      await deleteBusObjects(AMQP_URL, namespace, ['module-test']);
    }
    expect(bus.state).toBe('closed');
  });

  it('boots while RabbitMQ is unreachable and reports the bus down (503 from /health/ready)', async () => {
    const { app, bus, ready } = await boot({
      BUS_TRANSPORT: 'rabbitmq',
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:1',
      BUS_PUBLISH_TIMEOUT_MS: '300',
    });
    try {
      expect(bus.state).not.toBe('connected');
      const r = await ready();
      expect(r.ready).toBe(false);
      expect(r.checks.rabbitmq?.status).toBe('down');
    } finally {
      await app.close();
    }
  });

  it('with AMQP_URLS skips a dead node, connects to the next one and names it in /health/ready', async () => {
    const namespace = uniqueNamespace('module-urls');
    const live = new URL(AMQP_URL);
    const { app, bus, ready } = await boot({
      BUS_TRANSPORT: 'rabbitmq',
      AMQP_URLS: `amqp://guest:guest@127.0.0.1:1,${AMQP_URL}`,
      AMQP_QUEUE_TYPE: 'quorum',
      BUS_NAMESPACE: namespace,
      BUS_INSTANCE_ID: 'module-urls',
    });
    try {
      expect(bus.state).toBe('connected');
      expect((await ready()).checks.rabbitmq).toEqual({
        status: 'up',
        transport: 'rabbitmq',
        state: 'connected',
        node: `${live.hostname}:${live.port || '5672'}`,
        nodes: 2,
        queueType: 'quorum',
      });
    } finally {
      await app.close();
      await deleteBusObjects(AMQP_URL, namespace, ['module-urls']);
    }
  });

  it('fails to boot when the shared queues were declared with another AMQP_QUEUE_TYPE', async () => {
    const namespace = uniqueNamespace('module-type');
    const env = { BUS_TRANSPORT: 'rabbitmq', AMQP_URL, BUS_NAMESPACE: namespace };
    const classic = await boot({ ...env, BUS_INSTANCE_ID: 'module-classic' });
    await classic.app.close();
    try {
      await expect(
        boot({ ...env, BUS_INSTANCE_ID: 'module-quorum', AMQP_QUEUE_TYPE: 'quorum' }),
      ).rejects.toBeInstanceOf(QueueTypeMismatchError);
    } finally {
      await deleteBusObjects(AMQP_URL, namespace, ['module-classic', 'module-quorum']);
    }
  });
});
