import { Injectable } from '@nestjs/common';

export type ReadinessStatus = 'up' | 'down' | 'degraded';

export interface ReadinessResult {
  status: ReadinessStatus;
  [detail: string]: unknown;
}

export interface TimedReadinessResult {
  name: string;
  result: ReadinessResult;
  seconds: number;
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
    const entries = await this.checkEach(timeoutMs);
    const checks = Object.fromEntries(entries.map((e) => [e.name, e.result]));
    return { ready: entries.every((e) => e.result.status !== 'down'), checks };
  }

  /** Runs every check at once; each result with how long its check took (metrics use it). */
  async checkEach(timeoutMs = 2000): Promise<TimedReadinessResult[]> {
    return Promise.all(
      [...this.checks.entries()].map(async ([name, check]): Promise<TimedReadinessResult> => {
        let timer: NodeJS.Timeout | undefined;
        const t0 = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
        try {
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${timeoutMs} ms`)),
              timeoutMs,
            );
          });
          const result = await Promise.race([check(), timeout]);
          return { name, result, seconds: seconds() };
        } catch (e) {
          return {
            name,
            result: { status: 'down', error: (e as Error).message },
            seconds: seconds(),
          };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}
