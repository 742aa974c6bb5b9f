import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { DiscoveryService } from './discovery.service';

/**
 * Runs {@link DiscoveryService.sweepExpired} every DISCOVERY_SWEEP_INTERVAL_MS, so agents that
 * stopped heartbeating leave every index (and `agent.expired` is emitted) even when nobody
 * queries them. Queries never depend on it: they check the expiry index themselves.
 */
@Injectable()
export class DiscoverySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DiscoverySweeper.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastError?: string;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly config: ConfigService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.discovery.sweepIntervalMs);
    this.timer.unref();
    void this.tick();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep; never throws (Redis down is logged once per distinct error, then retried). */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.discovery
      .sweepExpired()
      .then(() => {
        if (this.lastError) this.logger.log('expiry sweep works again');
        this.lastError = undefined;
      })
      .catch((e: Error) => {
        if (e.message !== this.lastError) this.logger.warn(`expiry sweep failed: ${e.message}`);
        this.lastError = e.message;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
