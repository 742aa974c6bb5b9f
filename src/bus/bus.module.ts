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
import { RabbitMqMessageBus } from './rabbitmq.transport';

/** How long boot waits for RabbitMQ before carrying on (the bus keeps retrying; /health/ready says down). */
const BOOT_CONNECT_WAIT_MS = 5000;

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

  constructor(@Inject(MessageBus) private readonly bus: MessageBus) {}

  async onModuleInit(): Promise<void> {
    try {
      if (this.bus instanceof RabbitMqMessageBus) await this.bus.connect(BOOT_CONNECT_WAIT_MS);
      else await this.bus.connect();
    } catch (e) {
      this.logger.warn(
        `message bus not connected yet, retrying in the background: ${(e as Error).message}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}
