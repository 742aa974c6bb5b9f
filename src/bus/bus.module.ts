import {
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { MetricsService } from '../observability/metrics.service';
import { busOptionsFromConfig } from './bus-options';
import { BusHealthIndicator } from './bus.health';
import { MemoryMessageBus } from './memory.transport';
import { MessageBus } from './message-bus';
import { QueueTypeMismatchError } from './rabbitmq/amqp.util';
import { RabbitMqMessageBus } from './rabbitmq.transport';

/**
 * The message bus, injected as {@link MessageBus}. BUS_TRANSPORT picks RabbitMQ or the in-memory
 * transport. Connects in onModuleInit (without blocking boot for long), closes gracefully on
 * application shutdown.
 */
@Global()
@Module({
  providers: [
    {
      provide: MessageBus,
      inject: [ConfigService, MetricsService],
      useFactory: (config: ConfigService, metrics: MetricsService): MessageBus => {
        // No I/O here: the transports connect in connect().
        const options = busOptionsFromConfig(config.bus, metrics);
        return config.bus.transport === 'memory'
          ? new MemoryMessageBus(options)
          : new RabbitMqMessageBus(options);
      },
    },
    BusHealthIndicator,
  ],
  exports: [MessageBus],
})
export class BusModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(BusModule.name);

  constructor(
    @Inject(MessageBus) private readonly bus: MessageBus,
    private readonly config: ConfigService,
  ) {}

  async onModuleInit(): Promise<void> {
    try {
      // Boot waits at most BUS_PUBLISH_TIMEOUT_MS for RabbitMQ, then carries on: the bus keeps
      // retrying in the background and /health/ready reports it down meanwhile.
      if (this.bus instanceof RabbitMqMessageBus) {
        await this.bus.connect(this.config.bus.publishTimeoutMs);
      } else await this.bus.connect();
    } catch (e) {
      // A queue of another AMQP_QUEUE_TYPE: no retry can fix it, so boot fails saying what to do.
      if (e instanceof QueueTypeMismatchError) throw e;
      this.logger.warn(
        `message bus not connected yet, retrying in the background: ${(e as Error).message}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}
