import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, MemoryHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../../auth/auth.decorators';
import { ReadinessRegistry } from './readiness.registry';

/** Kubernetes probes. No token needed. */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly memory: MemoryHealthIndicator,
    private readonly readiness: ReadinessRegistry,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process is running and its event loop answers' })
  live() {
    // 4 GiB of heap means something is leaking badly; restart rather than limp on.
    return this.health.check([() => this.memory.checkHeap('heap', 4 * 1024 * 1024 * 1024)]);
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: every backing service (Redis, RabbitMQ, S3) answers' })
  @ApiOkResponse({ description: 'Ready to serve traffic' })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down' })
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const { ready, checks } = await this.readiness.run();
    await reply
      .status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
      .send({ status: ready ? 'ok' : 'error', checks });
  }
}
