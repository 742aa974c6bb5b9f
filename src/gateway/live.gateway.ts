import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { RawData, WebSocket } from 'ws';
import { ApiKeyService } from '../auth/api-key.service';
import { AuthFailureLimiter } from '../auth/auth-failure-limiter.service';
import { bearerToken } from '../auth/auth.guard';
import type { Principal } from '../auth/principal.type';
import { Role } from '../auth/role.enum';
import { zodProblems } from '../common/errors/zod-problems.util';
import { ConfigService } from '../config/config.service';
import { EventsService } from '../events/events.service';
import { MetricsService } from '../observability/metrics.service';
import type { SwitchyardEvent } from '../events/switchyard-event.type';
import { LiveConnection } from './live-connection';
import { LiveFanoutService } from './live-fanout.service';
import { LIVE_CLOSE, type LiveClientMessage, liveClientMessageSchema } from './live-message.schema';

/** Largest message a client may send (subscriptions are small). */
const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

export interface LiveFeedStats {
  connections: number;
  authenticated: number;
  eventsDelivered: number;
  eventsDropped: number;
  slowClientsClosed: number;
  deadClientsTerminated: number;
}

/**
 * The live feed at `/v1/live` (docs/LIVE-FEED.md): plain WebSocket, JSON messages, bearer-token
 * auth at connect (header, `?token=`, or a first `auth` message), per-subscription filters,
 * per-connection sequence numbers, a bounded buffer per client and ping/pong heartbeats.
 *
 * Served through @nestjs/platform-ws's WsAdapter, which create-app.ts installs on the Fastify
 * app: it listens to the Node server's `upgrade` event and hands `/v1/live` to this gateway.
 * The feed is read-only for every role: there is no message that changes anything.
 */
@WebSocketGateway({ path: '/v1/live', maxPayload: MAX_CLIENT_MESSAGE_BYTES })
export class LiveGateway
  implements
    OnGatewayConnection<WebSocket>,
    OnGatewayDisconnect<WebSocket>,
    OnModuleInit,
    OnModuleDestroy
{
  private readonly logger = new Logger(LiveGateway.name);
  private readonly connections = new Map<WebSocket, LiveConnection>();
  /** Connections still without a principal (waiting for their `auth` message), with their deadline. */
  private readonly authTimers = new Map<WebSocket, NodeJS.Timeout>();
  /** Remote address of every open connection, and how many each address holds. */
  private readonly addressOf = new Map<WebSocket, string>();
  private readonly perAddress = new Map<string, { open: number; unauthenticated: number }>();
  private heartbeat?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private connectionCounter = 0;
  private readonly totals = { dropped: 0, delivered: 0, slowClosed: 0, deadTerminated: 0 };
  /** Set while this instance is being announced as a listener: client messages wait for it. */
  private held?: Promise<void>;

  constructor(
    private readonly config: ConfigService,
    private readonly keys: ApiKeyService,
    private readonly events: EventsService,
    private readonly fanout: LiveFanoutService,
    private readonly metrics: MetricsService,
    private readonly limiter: AuthFailureLimiter,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.events.subscribe((event) => this.dispatch(event));
    this.heartbeat = setInterval(() => this.beat(), this.config.gateway.pingIntervalMs);
    this.heartbeat.unref();
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    clearInterval(this.heartbeat);
    for (const timer of this.authTimers.values()) clearTimeout(timer);
    this.authTimers.clear();
    for (const conn of this.connections.values()) {
      conn.close(LIVE_CLOSE.goingAway, 'server shutting down', true);
    }
    this.connections.clear();
  }

  stats(): LiveFeedStats {
    let delivered = this.totals.delivered;
    let dropped = this.totals.dropped;
    let authenticated = 0;
    for (const c of this.connections.values()) {
      delivered += c.delivered;
      dropped += c.droppedTotal;
      if (c.principal) authenticated++;
    }
    return {
      connections: this.connections.size,
      authenticated,
      eventsDelivered: delivered,
      eventsDropped: dropped,
      slowClientsClosed: this.totals.slowClosed,
      deadClientsTerminated: this.totals.deadTerminated,
    };
  }

  handleConnection(ws: WebSocket, request: IncomingMessage): void {
    const g = this.config.gateway;
    const conn = new LiveConnection(
      `${this.fanout.instanceId}:${++this.connectionCounter}:${randomBytes(3).toString('hex')}`,
      ws,
      {
        maxBufferedBytes: g.maxBufferedBytes,
        maxBufferedEvents: g.maxBufferedEvents,
        slowClientGraceMs: g.slowClientGraceMs,
      },
    );
    const token = tokenFromRequest(request);
    const pending = token === undefined && !this.keys.disabled;
    const address = request.socket.remoteAddress ?? 'unknown';
    const mine = this.perAddress.get(address) ?? { open: 0, unauthenticated: 0 };
    // Sockets without a token have their own small cap (and a short deadline), so a flood of
    // them never locks out clients that authenticate; every address has its own caps too.
    const refusal =
      mine.open >= g.maxClientsPerIp
        ? `too many connections from one address (LIVE_MAX_CLIENTS_PER_IP=${g.maxClientsPerIp})`
        : pending && mine.unauthenticated >= g.maxUnauthenticatedPerIp
          ? `too many connections without a token from one address (LIVE_MAX_UNAUTHENTICATED_PER_IP=${g.maxUnauthenticatedPerIp})`
          : pending && this.authTimers.size >= g.maxUnauthenticated
            ? `too many connections without a token (LIVE_MAX_UNAUTHENTICATED=${g.maxUnauthenticated})`
            : !pending && this.authenticatedCount() >= g.maxClients
              ? `too many clients (LIVE_MAX_CLIENTS=${g.maxClients})`
              : undefined;
    if (refusal) {
      this.metrics.liveClientsClosed.inc({
        reason: pending ? 'too_many_unauthenticated' : 'too_many_clients',
      });
      conn.close(LIVE_CLOSE.tryAgainLater, refusal);
      return;
    }
    mine.open++;
    if (pending) mine.unauthenticated++;
    this.perAddress.set(address, mine);
    this.addressOf.set(ws, address);
    this.connections.set(ws, conn);
    this.metrics.liveClients.set(this.connections.size);
    ws.on('pong', () => (conn.awaitingPong = false));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(conn, data, isBinary));

    if (!pending) {
      this.authenticate(conn, token ?? '');
      return;
    }
    conn.sendControl({ type: 'auth_required', timeoutMs: g.authTimeoutMs });
    const timer = setTimeout(() => {
      this.clearPending(ws);
      if (!conn.principal) {
        this.metrics.liveClientsClosed.inc({ reason: 'unauthenticated' });
        conn.close(
          LIVE_CLOSE.unauthenticated,
          'no token: send {"type":"auth","token":"..."} first',
        );
      }
    }, g.authTimeoutMs);
    timer.unref();
    this.authTimers.set(ws, timer);
  }

  handleDisconnect(ws: WebSocket): void {
    const conn = this.connections.get(ws);
    if (conn) {
      this.totals.delivered += conn.delivered;
      this.totals.dropped += conn.droppedTotal;
      conn.markClosed();
    }
    this.connections.delete(ws);
    this.metrics.liveClients.set(this.connections.size);
    if (this.connections.size === 0) this.fanout.withdrawListener();
    this.clearPending(ws);
    const address = this.addressOf.get(ws);
    this.addressOf.delete(ws);
    const mine = address === undefined ? undefined : this.perAddress.get(address);
    if (address !== undefined && mine) {
      mine.open--;
      if (mine.open <= 0) this.perAddress.delete(address);
    }
  }

  /** Connections with a principal. */
  private authenticatedCount(): number {
    return this.connections.size - this.authTimers.size;
  }

  /** The connection is no longer waiting for its `auth` message (authenticated or gone). */
  private clearPending(ws: WebSocket): void {
    const timer = this.authTimers.get(ws);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.authTimers.delete(ws);
    const address = this.addressOf.get(ws);
    const mine = address === undefined ? undefined : this.perAddress.get(address);
    if (mine) mine.unauthenticated--;
  }

  private authenticate(conn: LiveConnection, token: string): void {
    const address = this.addressOf.get(conn.ws) ?? 'unknown';
    if (!this.keys.disabled && this.limiter.retryAfterSeconds(address, 'ws') > 0) {
      conn.sendControl({
        type: 'error',
        code: 'TOO_MANY_REQUESTS',
        message: 'too many failed authentications from this address',
      });
      this.metrics.liveClientsClosed.inc({ reason: 'unauthenticated' });
      conn.close(LIVE_CLOSE.unauthenticated, 'too many failed authentications');
      return;
    }
    const principal = this.keys.verify(token);
    if (!principal) {
      this.limiter.fail(address, 'ws');
      conn.sendControl({ type: 'error', code: 'UNAUTHENTICATED', message: 'Invalid API token' });
      this.metrics.liveClientsClosed.inc({ reason: 'unauthenticated' });
      conn.close(LIVE_CLOSE.unauthenticated, 'invalid token');
      return;
    }
    // Checked while the connection still counts as pending, so the count excludes it.
    const full =
      this.authTimers.has(conn.ws) && this.authenticatedCount() >= this.config.gateway.maxClients;
    this.clearPending(conn.ws);
    if (full) {
      this.metrics.liveClientsClosed.inc({ reason: 'too_many_clients' });
      conn.close(
        LIVE_CLOSE.tryAgainLater,
        `too many clients (LIVE_MAX_CLIENTS=${this.config.gateway.maxClients})`,
      );
      return;
    }
    conn.principal = principal;
    conn.sendControl({
      type: 'welcome',
      connectionId: conn.id,
      role: principal.role,
      name: principal.name,
      instanceId: this.fanout.instanceId,
    });
  }

  private onMessage(conn: LiveConnection, data: RawData, isBinary: boolean): void {
    conn.awaitingPong = false;
    let json: unknown;
    try {
      if (isBinary) throw new Error('binary frames are not part of the protocol');
      json = JSON.parse(rawToString(data));
    } catch (e) {
      conn.sendControl({
        type: 'error',
        code: 'BAD_MESSAGE',
        message: `not a JSON text message: ${(e as Error).message}`,
      });
      return;
    }
    const parsed = liveClientMessageSchema.safeParse(json);
    if (!parsed.success) {
      const type = (json as { type?: unknown } | null)?.type;
      const readOnly =
        typeof type === 'string' && !['auth', 'subscribe', 'unsubscribe', 'ping'].includes(type);
      conn.sendControl({
        type: 'error',
        code: readOnly ? 'UNSUPPORTED' : 'VALIDATION_FAILED',
        message: readOnly
          ? `unknown message type '${type}': the live feed is read-only (auth, subscribe, unsubscribe, ping); act through the REST API`
          : 'invalid message',
        details: { fields: zodProblems(parsed.error) },
      });
      return;
    }
    const message = parsed.data;
    // Other instances publish their events only while this one is in the listener set: the
    // first subscription waits until it is (and messages behind it wait too, keeping order).
    const announced =
      this.held ?? (message.type === 'subscribe' ? this.fanout.announceListener() : undefined);
    if (announced) {
      this.held = announced;
      void announced.then(() => {
        if (this.held === announced) this.held = undefined;
        this.handle(conn, message);
      });
      return;
    }
    this.handle(conn, message);
  }

  private handle(conn: LiveConnection, message: LiveClientMessage): void {
    if (message.type === 'auth') {
      if (conn.principal) {
        conn.sendControl({ type: 'error', code: 'BAD_MESSAGE', message: 'already authenticated' });
        return;
      }
      this.authenticate(conn, message.token);
      return;
    }
    if (message.type === 'ping') {
      conn.sendControl({ type: 'pong', at: new Date().toISOString() });
      return;
    }
    const principal = conn.principal;
    if (!principal) {
      conn.sendControl({
        type: 'error',
        code: 'UNAUTHENTICATED',
        message: 'send {"type":"auth","token":"..."} first',
      });
      return;
    }
    if (message.type === 'unsubscribe') {
      if (!conn.subscriptions.delete(message.id)) {
        conn.sendControl({
          type: 'error',
          code: 'NOT_FOUND',
          message: `no subscription '${message.id}'`,
        });
        return;
      }
      conn.sendControl({ type: 'unsubscribed', id: message.id });
      return;
    }
    // subscribe
    const max = this.config.gateway.maxSubscriptions;
    const id = message.id ?? conn.newSubscriptionId();
    if (!conn.subscriptions.has(id) && conn.subscriptions.size >= max) {
      conn.sendControl({
        type: 'error',
        code: 'TOO_MANY_SUBSCRIPTIONS',
        message: `at most ${max} subscriptions per connection (LIVE_MAX_SUBSCRIPTIONS)`,
      });
      return;
    }
    const filters = scopeFilters(principal, message.filters);
    if (!filters) {
      conn.sendControl({
        type: 'error',
        code: 'FORBIDDEN',
        message: `this token reads only events of agent '${principal.agentId}'`,
      });
      return;
    }
    conn.subscriptions.set(id, filters);
    conn.sendControl({ type: 'subscribed', id, filters });
  }

  /** Sends one event to every client with a matching subscription. Never blocks on a client. */
  private dispatch(event: SwitchyardEvent): void {
    if (this.connections.size === 0) return;
    let json: string | undefined;
    for (const conn of this.connections.values()) {
      if (!conn.principal || conn.subscriptions.size === 0) continue;
      const ids = conn.matching(event);
      if (ids.length === 0) continue;
      json ??= JSON.stringify(event.source ? event : { ...event, source: this.fanout.instanceId });
      const droppedBefore = conn.droppedTotal;
      conn.deliverEvent(ids, json);
      if (conn.droppedTotal !== droppedBefore) this.metrics.liveEventsDropped.inc();
      if (!conn.isOpen) this.noteSlowClose(conn);
    }
  }

  /** Heartbeat: terminate clients that missed the last pong, ping the rest, cut slow ones. */
  private beat(): void {
    for (const conn of this.connections.values()) {
      if (conn.checkSlow()) {
        this.noteSlowClose(conn);
        continue;
      }
      if (conn.awaitingPong) {
        this.totals.deadTerminated++;
        this.metrics.liveClientsClosed.inc({ reason: 'heartbeat' });
        this.logger.warn(`live client ${conn.id} missed a heartbeat: terminated`);
        conn.ws.terminate();
        continue;
      }
      conn.awaitingPong = true;
      try {
        conn.ws.ping();
      } catch {
        conn.ws.terminate();
      }
    }
  }

  private noteSlowClose(conn: LiveConnection): void {
    if (!this.connections.has(conn.ws)) return;
    this.totals.slowClosed++;
    this.metrics.liveClientsClosed.inc({ reason: 'slow_consumer' });
    this.totals.delivered += conn.delivered;
    this.totals.dropped += conn.droppedTotal;
    this.connections.delete(conn.ws);
    this.metrics.liveClients.set(this.connections.size);
    if (this.connections.size === 0) this.fanout.withdrawListener();
    this.logger.warn(`live client ${conn.id} could not keep up: closed (4008)`);
  }
}

/** `Authorization: Bearer x`, or `?token=x` / `?access_token=x` for browsers. */
function tokenFromRequest(request: IncomingMessage): string | undefined {
  const header = bearerToken(request.headers.authorization);
  if (header) return header;
  const url = new URL(request.url ?? '/', 'http://localhost');
  const query = url.searchParams.get('token') ?? url.searchParams.get('access_token');
  return query && query.length > 0 ? query : undefined;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Agent tokens only see their own agent's events; other roles read everything. */
function scopeFilters<F extends { agentId?: string }>(
  principal: Principal,
  filters: F,
): F | undefined {
  if (principal.role !== Role.Agent) return filters;
  if (filters.agentId !== undefined && filters.agentId !== principal.agentId) return undefined;
  return { ...filters, agentId: principal.agentId };
}
