import request from 'supertest';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import { deletePrefix } from '../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../support/test-app';

describe('tasks and queue REST (e2e)', () => {
  let t: TestApp;
  let queue: TaskQueueService;

  beforeAll(async () => {
    t = await startTestApp({
      QUEUE_MAX_PAYLOAD_BYTES: '1024',
      QUEUE_NAME: `e2e-${Date.now()}`,
      DEADLOCK_CHECK_INTERVAL_MS: '0',
      // The queue is driven by hand here; the orchestrator has its own tests.
      ORCHESTRATOR_ENABLED: 'false',
    });
    queue = t.app.get(TaskQueueService);
  });

  afterAll(async () => {
    await queue.jobs.obliterate().catch(() => undefined);
    await t.close();
    await deletePrefix(t.prefix);
  });

  const post = (path: string, body: unknown) =>
    request(t.server)
      .post(path)
      .set(auth())
      .send(body as object);

  it('submits a task, reads it back, and lists it', async () => {
    const res = await post('/v1/tasks', {
      capability: 'code-review',
      payload: { pr: 1 },
      priority: 'HIGH',
    }).expect(201);
    expect(res.body).toMatchObject({
      capability: 'code-review',
      priority: 7,
      status: 'READY',
      attempt: 0,
    });
    const got = await request(t.server).get(`/v1/tasks/${res.body.id}`).set(auth()).expect(200);
    expect(got.body.payload).toEqual({ pr: 1 });
    const list = await request(t.server)
      .get('/v1/tasks?capability=code-review&status=READY')
      .set(auth())
      .expect(200);
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain(res.body.id);
  });

  it('returns the same task for the same idempotency key', async () => {
    const a = await post('/v1/tasks', { capability: 'x', idempotencyKey: 'k-1' }).expect(201);
    const b = await post('/v1/tasks', { capability: 'x', idempotencyKey: 'k-1' }).expect(200);
    expect(b.body.id).toBe(a.body.id);
  });

  it('honours the Idempotency-Key header, and refuses a reused key with a different body (409)', async () => {
    const send = (body: object, key: string) =>
      request(t.server).post('/v1/tasks').set(auth()).set('Idempotency-Key', key).send(body);
    const a = await send({ capability: 'x', payload: { n: 1 } }, 'hdr-1').expect(201);
    const b = await send({ capability: 'x', payload: { n: 1 } }, 'hdr-1').expect(200);
    expect(b.body.id).toBe(a.body.id);
    const clash = await send({ capability: 'x', payload: { n: 2 } }, 'hdr-1').expect(409);
    expect(clash.body.error.message).toContain("idempotency key 'hdr-1'");
    expect(clash.body.error.details).toEqual({ idempotencyKey: 'hdr-1' });
    await request(t.server)
      .post('/v1/tasks')
      .set(auth())
      .set('Idempotency-Key', 'hdr-2')
      .send({ capability: 'x', idempotencyKey: 'other' })
      .expect(400);
    const wf = { tasks: [{ ref: 'a', capability: 'x' }] };
    const w1 = await request(t.server)
      .post('/v1/workflows')
      .set(auth())
      .set('Idempotency-Key', 'wf-1')
      .send(wf)
      .expect(201);
    const w2 = await request(t.server)
      .post('/v1/workflows')
      .set(auth())
      .set('Idempotency-Key', 'wf-1')
      .send(wf)
      .expect(200);
    expect(w2.body.workflow.id).toBe(w1.body.workflow.id);
    await request(t.server)
      .post('/v1/workflows')
      .set(auth())
      .set('Idempotency-Key', 'wf-1')
      .send({ tasks: [{ ref: 'b', capability: 'x' }] })
      .expect(409);
  });

  it('paginates with a cursor', async () => {
    for (let i = 0; i < 5; i++) await post('/v1/tasks', { capability: 'paged' }).expect(201);
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/tasks?capability=paged&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await request(t.server).get(q).set(auth()).expect(200);
      for (const item of res.body.items) seen.add(item.id);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen.size).toBe(5);
    expect(pages).toBe(3);
  });

  it.each([
    [{ capability: 'x', priority: 11 }, 'priority'],
    [{ capability: 'x', priority: 0 }, 'priority'],
    [{ capability: 'x', priority: 'URGENT' }, 'priority'],
    [{ priority: 5 }, 'capability'],
    [{ capability: 'x', extra: true }, 'extra'],
    [{ capability: 'x', dependsOn: ['bad id!'] }, 'dependsOn.0'],
    [{ capability: 'x', timeoutMs: -1 }, 'timeoutMs'],
    [{ capability: 'x', retry: { maxRetries: -1 } }, 'retry.maxRetries'],
    [{ capability: 'x', retry: { jitter: [1.2, 0.8] } }, 'retry.jitter'],
    [{ capability: 'x', onDependencyFailure: 'explode' }, 'onDependencyFailure'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const res = await post('/v1/tasks', body).expect(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.fields.map((f: { field: string }) => f.field)).toContain(field);
  });

  it('answers 413 naming the payload when it is too large', async () => {
    const res = await post('/v1/tasks', { capability: 'x', payload: 'y'.repeat(2000) }).expect(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(res.body.error.details.fields[0].field).toBe('payload');
  });

  it('refuses a task depending on itself (400) and a taken id (409)', async () => {
    const self = await post('/v1/tasks', {
      id: 'selfish',
      capability: 'x',
      dependsOn: ['selfish'],
    }).expect(400);
    expect(self.body.error.details.cycle).toEqual(['selfish']);
    await post('/v1/tasks', { id: 'taken', capability: 'x' }).expect(201);
    const dup = await post('/v1/tasks', { id: 'taken', capability: 'x' }).expect(409);
    expect(dup.body.error.code).toBe('CONFLICT');
  });

  it('answers 404 for unknown tasks and 400 for malformed ids, cursors and filters', async () => {
    await request(t.server).get('/v1/tasks/nope').set(auth()).expect(404);
    const bad = await request(t.server).get('/v1/tasks/bad%20id').set(auth()).expect(400);
    expect(bad.body.error.details.fields[0].field).toBe('id');
    const cur = await request(t.server).get('/v1/tasks?cursor=!!!').set(auth()).expect(400);
    expect(cur.body.error.details.fields[0].field).toBe('cursor');
    const st = await request(t.server).get('/v1/tasks?status=SLEEPING').set(auth()).expect(400);
    expect(st.body.error.details.fields[0].field).toBe('status');
    await request(t.server).get('/v1/tasks?limit=0').set(auth()).expect(400);
    await request(t.server).post('/v1/tasks/nope/cancel').set(auth()).expect(404);
  });

  it('needs a token', async () => {
    await request(t.server).get('/v1/queue').expect(401);
    await request(t.server).post('/v1/tasks').send({ capability: 'x' }).expect(401);
  });

  it('cancels a task once (409 the second time) and cascades to its dependents', async () => {
    await post('/v1/tasks', { id: 'up1', capability: 'x' }).expect(201);
    await post('/v1/tasks', { id: 'down1', capability: 'x', dependsOn: ['up1'] }).expect(201);
    const res = await post('/v1/tasks/up1/cancel', {}).expect(200);
    expect(res.body).toMatchObject({ status: 'CANCELLED', reason: 'user' });
    const again = await post('/v1/tasks/up1/cancel', {}).expect(409);
    expect(again.body.error.details.status).toBe('CANCELLED');
    const down = await request(t.server).get('/v1/tasks/down1').set(auth()).expect(200);
    expect(down.body).toMatchObject({ status: 'FAILED', reason: 'upstream_failed' });
  });

  it('reports counts', async () => {
    const res = await request(t.server).get('/v1/queue').set(auth()).expect(200);
    for (const k of [
      'ready',
      'blocked',
      'running',
      'delayed',
      'completed',
      'failed',
      'cancelled',
      'deadLetter',
    ]) {
      expect(typeof res.body[k]).toBe('number');
    }
    expect(res.body.ready).toBeGreaterThan(0);
  });

  it('finds and resolves a deadlock formed at runtime', async () => {
    await post('/v1/tasks', { id: 'dA', capability: 'x', dependsOn: ['dB'], priority: 9 }).expect(
      201,
    );
    await post('/v1/tasks', { id: 'dB', capability: 'x', dependsOn: ['dA'], priority: 2 }).expect(
      201,
    );
    const found = await request(t.server).get('/v1/queue/deadlocks').set(auth()).expect(200);
    expect(found.body.cycles).toHaveLength(1);
    expect(found.body.cycles[0].victim).toBe('dB');
    const resolved = await post('/v1/queue/deadlocks/resolve', {}).expect(200);
    expect(resolved.body.resolved).toEqual([expect.objectContaining({ cancelled: 'dB' })]);
    const b = await request(t.server).get('/v1/tasks/dB').set(auth()).expect(200);
    expect(b.body).toMatchObject({ status: 'CANCELLED', reason: 'deadlock' });
    const none = await request(t.server).get('/v1/queue/deadlocks').set(auth()).expect(200);
    expect(none.body.cycles).toEqual([]);
  });

  it('lists dead letters and requeues them (404 unknown, 409 not dead)', async () => {
    await post('/v1/tasks', { id: 'doomed', capability: 'dl', priority: 10 }).expect(201);
    let task = await queue.dequeue();
    while (task && task.id !== 'doomed') task = await queue.dequeue();
    expect(task?.id).toBe('doomed');
    await queue.fail('doomed', 0, { type: 'validation', message: 'bad input', retryable: false });
    const dl = await request(t.server).get('/v1/queue/dead-letter').set(auth()).expect(200);
    expect(dl.body.items.map((x: { id: string }) => x.id)).toContain('doomed');
    const rq = await post('/v1/queue/dead-letter/doomed/requeue', {}).expect(200);
    expect(rq.body).toMatchObject({ status: 'READY', attempt: 0 });
    await post('/v1/queue/dead-letter/doomed/requeue', {}).expect(409);
    await post('/v1/queue/dead-letter/ghost/requeue', {}).expect(404);
  });
});
