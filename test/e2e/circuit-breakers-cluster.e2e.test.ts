import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import request from 'supertest';
import { BusTopology } from '../../src/bus/bus-topology';
import { BreakerRegistry } from '../../src/resilience/breaker-registry.service';
import { deletePrefix } from '../support/redis-cleanup';
import { auth, startTestApp, type TestApp, uniquePrefix } from '../support/test-app';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function eventually(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Two control-plane apps sharing one Redis prefix and one RabbitMQ namespace, as two instances
 * behind a load balancer: a breaker opened by one is reported open by the other, and a reset
 * through either reaches both.
 */
describe('circuit breakers across two control-plane instances (e2e)', () => {
  const namespace = `sytest-cb-${randomBytes(3).toString('hex')}`;
  const prefix = uniquePrefix('cbcluster');
  const env = {
    BUS_TRANSPORT: 'rabbitmq',
    BUS_NAMESPACE: namespace,
    REDIS_KEY_PREFIX: prefix,
    BREAKER_SYNC_INTERVAL_MS: '0',
  };
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await startTestApp(env);
    b = await startTestApp(env);
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await deletePrefix(prefix);
    const t = new BusTopology(namespace);
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    for (const q of [t.orchestratorQueue, t.parkingQueue])
      await ch.deleteQueue(q).catch(() => undefined);
    for (const x of [
      t.tasksExchange,
      t.broadcastsExchange,
      t.responsesExchange,
      t.deadLetterExchange,
    ]) {
      await ch.deleteExchange(x).catch(() => undefined);
    }
    await conn.close();
  });

  it('an agent whose breaker opened on instance A is open on instance B; a reset on B closes it on A', async () => {
    const onA = a.app.get(BreakerRegistry);
    const onB = b.app.get(BreakerRegistry);
    expect(onA.instanceId).not.toBe(onB.instanceId);
    for (let i = 0; i < 5; i++) {
      await onA
        .fire('shared-agent', () => Promise.reject(new Error('down')))
        .catch(() => undefined);
    }
    await eventually(async () => {
      const res = await request(b.server).get('/v1/circuit-breakers/shared-agent').set(auth());
      return res.body.state === 'open';
    }, 'instance B to report the breaker open');
    expect(onB.canDispatch('shared-agent')).toBe(false);
    const onBView = await request(b.server)
      .get('/v1/circuit-breakers/shared-agent')
      .set(auth())
      .expect(200);
    expect(onBView.body).toMatchObject({ failures: 5, lastChangeSource: onA.instanceId });

    await request(b.server).post('/v1/circuit-breakers/shared-agent/reset').set(auth()).expect(200);
    await eventually(async () => {
      const res = await request(a.server).get('/v1/circuit-breakers/shared-agent').set(auth());
      return res.body.state === 'closed';
    }, 'instance A to report the breaker closed');
    expect(onA.canDispatch('shared-agent')).toBe(true);
  });
});
