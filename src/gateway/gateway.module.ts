import { Module } from '@nestjs/common';
import { LiveFanoutService } from './live-fanout.service';
import { LiveGateway } from './live.gateway';

/** The WebSocket live feed at /v1/live (docs/LIVE-FEED.md). */
@Module({
  providers: [LiveFanoutService, LiveGateway],
  exports: [LiveFanoutService, LiveGateway],
})
export class GatewayModule {}
