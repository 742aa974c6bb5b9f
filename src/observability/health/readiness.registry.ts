import { Injectable } from '@nestjs/common';

export type ReadinessStatus = 'up' | 'down' | 'degraded';

export interface ReadinessResult {
  status: ReadinessStatus;
  [detail: string]: unknown;
}

/** A check may throw: that counts as `down` with the error's message. */
export type ReadinessCheck = () => Promise<ReadinessResult>;

/**
 * Modules register what `/health/ready` must check (Redis, RabbitMQ, S3, ...). A `degraded`
 * dependency is reported but keeps the instance ready (e.g. S3 down: writes still succeed).
 */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check '${name}' registered twice`);
    this.checks.set(name, check);
  }

  names(): string[] {
    return [...this.checks.keys()];
  }

  async run(
    timeoutMs = 2000,
  ): Promise<{ ready: boolean; checks: Record<string, ReadinessResult> }> {
    const entries = await Promise.all(
      [...this.checks.entries()].map(async ([name, check]): Promise<[string, ReadinessResult]> => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${timeoutMs} ms`)),
              timeoutMs,
            );
          });
          return [name, await Promise.race([check(), timeout])];
        } catch (e) {
          return [name, { status: 'down', error: (e as Error).message }];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ready: entries.every(([, r]) => r.status !== 'down'), checks };
  }
}
