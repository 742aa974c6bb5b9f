import { Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { ReadinessRegistry } from '../observability/health/readiness.registry';
import { MessageBus } from './message-bus';
import { RabbitMqMessageBus } from './rabbitmq.transport';

/**
 * Reports the bus to `/health/ready` as 'rabbitmq': down unless connected, with the node it is
 * connected to (`node`, host:port) and how many nodes it may use (`nodes`, AMQP_URLS).
 */
@Injectable()
export class BusHealthIndicator {
  constructor(bus: MessageBus, config: ConfigService, readiness: ReadinessRegistry) {
    const transport = config.bus.transport;
    readiness.register('rabbitmq', async () => {
      if (transport === 'memory') return { status: 'up', transport, state: bus.state };
      const state = bus.state;
      const cluster =
        bus instanceof RabbitMqMessageBus
          ? {
              node: bus.connectedNode ?? null,
              nodes: bus.nodeCount,
              queueType: config.bus.queueType,
            }
          : {};
      return { status: state === 'connected' ? 'up' : 'down', transport, state, ...cluster };
    });
  }
}
