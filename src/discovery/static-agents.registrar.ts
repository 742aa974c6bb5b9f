import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { loadAgentDirectory } from '../agents/agent-loader';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import { registrationFromDefinition } from './agent-definition.mapper';
import type { RegisterAgentInput } from './discovery.schemas';
import { DiscoveryService } from './discovery.service';

/**
 * Registers the agents of AGENTS_DIR at startup ("static" registrations, metadata source=file)
 * and keeps them alive with the control plane's own heartbeat, every third of the TTL. When Redis
 * is down at boot the registrations are retried on that timer; startup does not wait for it.
 * Several control planes may do this at once: registration and heartbeat are idempotent.
 */
@Injectable()
export class StaticAgentsRegistrar implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StaticAgentsRegistrar.name);
  private agents: RegisterAgentInput[] = [];
  private registered = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastError?: string;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly config: ConfigService,
  ) {}

  /** Ids of the agents loaded from AGENTS_DIR. */
  get agentIds(): string[] {
    return this.agents.map((a) => a.id);
  }

  async onApplicationBootstrap(): Promise<void> {
    const dir = this.config.agents.dir;
    if (dir === undefined) return;
    // A missing or unreadable AGENTS_DIR is a configuration mistake: refuse to start.
    const { loaded, skipped } = await loadAgentDirectory(dir);
    for (const s of skipped) this.logger.warn(`AGENTS_DIR: skipped ${s.file}: ${s.reason}`);
    for (const def of loaded) {
      const reg = registrationFromDefinition(def);
      if (reg.ok) this.agents.push(reg.input);
      else this.logger.warn(`AGENTS_DIR: cannot register ${reg.file}: ${reg.reason}`);
    }
    const intervalMs = Math.max(1000, (this.config.discovery.heartbeatTtlSeconds * 1000) / 3);
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
    await this.tick();
    this.logger.log(
      `AGENTS_DIR ${dir}: ${this.registered.size}/${this.agents.length} agent(s) registered` +
        (skipped.length > 0 ? `, ${skipped.length} file(s) skipped` : ''),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Registers what is not registered yet and heartbeats the rest; never throws. */
  tick(): Promise<void> {
    this.running ??= this.keepAlive().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async keepAlive(): Promise<void> {
    const results = await Promise.allSettled(this.agents.map((a) => this.keepOneAlive(a)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const message = failure ? (failure.reason as Error).message : undefined;
    if (message !== undefined && message !== this.lastError) {
      this.logger.warn(`static agent registration/heartbeat failed (will retry): ${message}`);
    }
    this.lastError = message;
  }

  private async keepOneAlive(agent: RegisterAgentInput): Promise<void> {
    if (this.registered.has(agent.id)) {
      try {
        await this.discovery.heartbeat(agent.id);
        return;
      } catch (e) {
        // Expired (e.g. Redis was down longer than the TTL, or it was flushed): register again.
        if (!(e instanceof AppException && e.code === ErrorCode.NotFound)) throw e;
        this.registered.delete(agent.id);
      }
    }
    await this.discovery.register(agent);
    this.registered.add(agent.id);
  }
}
