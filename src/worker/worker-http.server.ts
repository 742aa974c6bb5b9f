import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import { DiscoveryModule } from '../discovery/discovery.module';
import { DiscoveryService } from '../discovery/discovery.service';
import { ReadinessRegistry } from '../observability/health/readiness.registry';
import { MetricsService } from '../observability/metrics.service';
import { WorkerService } from './worker.service';

/** Heap above which liveness fails: a worker that leaks this much is better restarted. */
const LIVE_HEAP_LIMIT_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * The worker process's own small HTTP server (`WORKER_HTTP_PORT`), so an orchestrator can probe
 * and scrape workers like the control plane:
 * - `GET /health/live`: the process and its event loop answer (503 past a 4 GiB heap);
 * - `GET /health/ready`: Redis and RabbitMQ answer and every hosted agent is in the registry;
 *   503 with the failing check named otherwise, and from the moment the worker starts draining;
 * - `GET /metrics`: this process's Prometheus registry (default process metrics + task metrics).
 * Plain `node:http`: the worker has no Nest HTTP adapter, and three fixed routes need none.
 *
 * It lives in its own module, imported by the worker process module, because Nest runs shutdown
 * hooks from the root module down: the worker's drain (root) finishes before this server closes,
 * so liveness answers through the whole drain while readiness already says 503.
 */
@Injectable()
export class WorkerHttpServer
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(WorkerHttpServer.name);
  private server?: Server;
  private draining = false;

  constructor(
    private readonly config: ConfigService,
    private readonly readiness: ReadinessRegistry,
    private readonly metrics: MetricsService,
    private readonly discovery: DiscoveryService,
    private readonly moduleRef: ModuleRef,
  ) {
    readiness.register('agents', () => this.agentsCheck());
  }

  /** The worker service of the enclosing worker process module (its parent, so looked up). */
  private get worker(): WorkerService {
    return this.moduleRef.get(WorkerService, { strict: false });
  }

  /** The bound port, once listening (useful with WORKER_HTTP_PORT=0). */
  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { httpPort, httpHost } = this.config.worker;
    if (httpPort === undefined) return;
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(httpPort, httpHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log(
      `worker ${this.worker.workerId} serves /health/live, /health/ready, /metrics on ${httpHost}:${this.port}`,
    );
  }

  beforeApplicationShutdown(): void {
    // Draining: take the worker out of readiness at once, keep answering liveness until closed.
    this.draining = true;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async agentsCheck(): Promise<{ status: 'up' | 'down'; [k: string]: unknown }> {
    const ids = this.worker.registeredIds;
    if (ids.length === 0) return { status: 'down', error: 'no agent registered yet' };
    const missing: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        try {
          await this.discovery.get(id);
        } catch {
          missing.push(id);
        }
      }),
    );
    return missing.length === 0
      ? { status: 'up', agents: ids.length }
      : { status: 'down', error: `not in the registry: ${missing.sort().join(', ')}` };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, 405, ErrorCode.BadRequest, `${req.method} not allowed: use GET`);
      }
      switch (path) {
        case '/health/live': {
          const heap = process.memoryUsage().heapUsed;
          const ok = heap < LIVE_HEAP_LIMIT_BYTES;
          return send(res, ok ? 200 : 503, {
            status: ok ? 'ok' : 'error',
            workerId: this.worker.workerId,
            heapUsedBytes: heap,
          });
        }
        case '/health/ready': {
          if (this.draining) {
            return send(res, 503, { status: 'error', draining: true, checks: {} });
          }
          const { ready, checks } = await this.readiness.run();
          return send(res, ready ? 200 : 503, { status: ready ? 'ok' : 'error', checks });
        }
        case '/metrics': {
          const body = await this.metrics.registry.metrics();
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(body);
          return;
        }
        default:
          return sendError(
            res,
            404,
            ErrorCode.NotFound,
            `no route ${path}: the worker serves /health/live, /health/ready and /metrics`,
          );
      }
    } catch (e) {
      this.logger.error(`worker http ${path}: ${(e as Error).message}`);
      sendError(res, 500, ErrorCode.Internal, 'internal error');
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The API's error shape, `{ error: { code, message, details } }`. */
function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  send(res, status, { error: { code, message, details: {} } });
}

/** The worker's probe/metrics server, as a module below the worker process module. */
@Module({ imports: [DiscoveryModule], providers: [WorkerHttpServer] })
export class WorkerHttpModule {}
