import { Module } from '@nestjs/common';
import { LiveFanoutService } from './live-fanout.service';
import { LiveListenersRepository } from './live-listeners.repository';
import { LiveGateway } from './live.gateway';
import { StatusPageController } from './status-page.controller';

/** The WebSocket live feed at /v1/live (docs/LIVE-FEED.md) and the console at / (docs/CONSOLE.md). */
@Module({
  controllers: [StatusPageController],
  providers: [LiveFanoutService, LiveListenersRepository, LiveGateway],
  exports: [LiveFanoutService, LiveGateway],
})
export class GatewayModule {}
