import { z } from 'zod';
import { bool, defineSection, field, int } from '../config-field.util';

export const gatewaySection = defineSection('gateway', 'Live feed (WebSocket /v1/live)', {
  maxClients: field(
    'LIVE_MAX_CLIENTS',
    int(1).default(1000),
    'WebSocket clients one instance accepts at once; more are closed with 1013 (try again later)',
  ),
  maxUnauthenticated: field(
    'LIVE_MAX_UNAUTHENTICATED',
    int(1).default(20),
    'Connections without a token yet (waiting for their {"type":"auth"}) one instance holds at once; more are closed with 1013. They never count against LIVE_MAX_CLIENTS',
  ),
  maxClientsPerIp: field(
    'LIVE_MAX_CLIENTS_PER_IP',
    int(1).default(100),
    'Connections one remote address may hold at once (authenticated or not); more are closed with 1013',
  ),
  maxUnauthenticatedPerIp: field(
    'LIVE_MAX_UNAUTHENTICATED_PER_IP',
    int(1).default(5),
    'Connections without a token yet one remote address may hold at once',
  ),
  maxBufferedBytes: field(
    'LIVE_MAX_BUFFERED_BYTES',
    int(1024).default(1_048_576),
    'Bytes a client may have unsent in its socket before new events wait in its queue',
  ),
  maxBufferedEvents: field(
    'LIVE_MAX_BUFFERED_EVENTS',
    int(1).default(1000),
    'Events a slow client may have queued; beyond that events are dropped and counted',
  ),
  slowClientGraceMs: field(
    'LIVE_SLOW_CLIENT_GRACE_MS',
    int(0).default(5000),
    'A client still dropping events this long after its first drop is closed with 4008',
  ),
  pingIntervalMs: field(
    'LIVE_PING_INTERVAL_MS',
    int(100).default(30_000),
    'Heartbeat: a ping every interval; a client that missed the previous pong is terminated',
  ),
  authTimeoutMs: field(
    'LIVE_AUTH_TIMEOUT_MS',
    int(100).default(2000),
    'A client that connected without a token must send {"type":"auth"} within this time',
  ),
  maxSubscriptions: field(
    'LIVE_MAX_SUBSCRIPTIONS',
    int(1).default(50),
    'Subscriptions one connection may hold',
  ),
  fanout: field(
    'LIVE_FANOUT',
    bool().default(true),
    'Share events with other control-plane instances over the bus (broadcast exchange)',
  ),
  instanceId: field(
    'LIVE_INSTANCE_ID',
    z.string().min(1).max(200).optional(),
    'Name of this control-plane instance in events (default: hostname-pid-random)',
  ),
});
