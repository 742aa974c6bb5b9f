import { Controller, Get, HttpStatus, Optional, Req, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, MemoryHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyService } from '../../auth/api-key.service';
import { Public } from '../../auth/auth.decorators';
import { bearerToken } from '../../auth/auth.guard';
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
    // Absent in the worker process (no API keys there): its probes show the public view.
    @Optional() private readonly keys?: ApiKeyService,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process is running and its event loop answers' })
  live() {
    // 4 GiB of heap means something is leaking badly; restart rather than limp on.
    return this.health.check([() => this.memory.checkHeap('heap', 4 * 1024 * 1024 * 1024)]);
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'Readiness: every backing service (Redis, RabbitMQ, S3) answers. Without a valid token each check shows only its status, backend and counters; error text and locations need a token',
  })
  @ApiOkResponse({ description: 'Ready to serve traffic' })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down' })
  async ready(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { ready, checks } = await this.readiness.run();
    const token = bearerToken(request.headers.authorization);
    const keys = this.keys;
    const authenticated =
      keys !== undefined && (keys.disabled || (token !== undefined && !!keys.verify(token)));
    await reply.status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).send({
      status: ready ? 'ok' : 'error',
      checks: authenticated ? checks : publicView(checks),
    });
  }
}

/** Keys of a readiness check anyone may read: names and states, never paths or error text. */
const PUBLIC_CHECK_KEYS = new Set(['status', 'backend', 'transport', 'state']);

/** A check's status, backend and numbers (latency, pending uploads); strings such as file paths, URLs and error messages are dropped. */
function publicView(checks: Record<string, object>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, check] of Object.entries(checks)) {
    const view: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(check)) {
      if (PUBLIC_CHECK_KEYS.has(key) || typeof value === 'number' || typeof value === 'boolean') {
        view[key] = value;
      }
    }
    out[name] = view;
  }
  return out;
}
