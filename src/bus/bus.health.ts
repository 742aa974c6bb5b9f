import { Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { ReadinessRegistry } from '../observability/health/readiness.registry';
import { MessageBus } from './message-bus';

/** Reports the bus to `/health/ready` as 'rabbitmq': down unless connected. */
@Injectable()
export class BusHealthIndicator {
  constructor(bus: MessageBus, config: ConfigService, readiness: ReadinessRegistry) {
    const transport = config.bus.transport;
    readiness.register('rabbitmq', async () => {
      if (transport === 'memory') return { status: 'up', transport, state: bus.state };
      const state = bus.state;
      return { status: state === 'connected' ? 'up' : 'down', transport, state };
    });
  }
}
