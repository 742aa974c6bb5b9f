import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EventsService } from '../../events/events.service';
import { ReadinessRegistry } from '../health/readiness.registry';
import { ObservabilityRepository } from './observability.repository';

/** How often a control plane records that it is ready (one sample per minute is what counts). */
export const AVAILABILITY_TICK_MS = 15_000;

/**
 * Writes what the plan's report needs and no metric keeps: the minutes in which this control
 * plane was ready (uptime = minutes in which at least one was), and breaker open -> closed cycles
 * (recovery time after an agent failure).
 */
@Injectable()
export class AvailabilityRecorder implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AvailabilityRecorder.name);
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;

  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly repo: ObservabilityRepository,
    private readonly events: EventsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), AVAILABILITY_TICK_MS);
    this.timer.unref();
    void this.tick();
    this.unsubscribe = this.events.subscribe((e) => {
      if (!e.agentId) return;
      const at = Date.parse(e.at);
      const write =
        e.type === 'breaker.opened'
          ? this.repo.breakerOpened(e.agentId, at)
          : e.type === 'breaker.closed'
            ? this.repo.breakerClosed(e.agentId, at)
            : undefined;
      write?.catch((err: Error) => this.logger.warn(`cannot record breaker cycle: ${err.message}`));
    });
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** Records this minute as available when every dependency is up (what /health/ready says). */
  async tick(now = Date.now()): Promise<boolean> {
    try {
      const { ready } = await this.readiness.run();
      if (ready) await this.repo.markAvailable(now);
      return ready;
    } catch (e) {
      this.logger.warn(`cannot record availability: ${(e as Error).message}`);
      return false;
    }
  }
}
