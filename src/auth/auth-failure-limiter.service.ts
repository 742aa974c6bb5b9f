import { Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { MetricsService } from '../observability/metrics.service';

/** Failures of one address in its current window. */
interface Window {
  startedAt: number;
  failures: number;
}

/** Addresses tracked at most; past this the oldest windows are dropped (memory stays bounded). */
const MAX_TRACKED_ADDRESSES = 100_000;

/**
 * Limits failed authentications per remote address (REST 401s and WebSocket auth failures):
 * after AUTH_FAILURE_LIMIT failures within AUTH_FAILURE_WINDOW_SECONDS an address is refused
 * (429 / close 4429) until its window ends, valid token or not, so a token cannot be guessed
 * faster than that. Counted in `auth_failures_total{transport,outcome}`. In memory, per
 * control-plane instance (N instances allow N times the limit).
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly limit: number;
  private readonly windowMs: number;

  constructor(
    config: ConfigService,
    private readonly metrics: MetricsService,
  ) {
    this.limit = config.auth.failureLimit;
    this.windowMs = config.auth.failureWindowSeconds * 1000;
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfterSeconds(address: string, transport: 'http' | 'ws', now = Date.now()): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    if (now - w.startedAt >= this.windowMs) {
      this.windows.delete(address);
      return 0;
    }
    if (w.failures < this.limit) return 0;
    this.metrics.authFailures.inc({ transport, outcome: 'rate_limited' });
    return Math.max(1, Math.ceil((w.startedAt + this.windowMs - now) / 1000));
  }

  /** Records one failed authentication from `address`. */
  fail(address: string, transport: 'http' | 'ws', now = Date.now()): void {
    this.metrics.authFailures.inc({ transport, outcome: 'rejected' });
    const w = this.windows.get(address);
    if (w && now - w.startedAt < this.windowMs) {
      w.failures++;
      return;
    }
    this.windows.delete(address);
    if (this.windows.size >= MAX_TRACKED_ADDRESSES) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(address, { startedAt: now, failures: 1 });
  }
}
