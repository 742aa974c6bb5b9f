import request from 'supertest';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import { deletePrefix } from '../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../support/test-app';

describe('workflows REST (e2e)', () => {
  let t: TestApp;
  let queue: TaskQueueService;

  beforeAll(async () => {
    t = await startTestApp({
      QUEUE_MAX_PAYLOAD_BYTES: '1024',
      QUEUE_NAME: `e2ewf-${Date.now()}`,
      // The queue is driven by hand here; the orchestrator has its own tests.
      ORCHESTRATOR_ENABLED: 'false',
    });
    queue = t.app.get(TaskQueueService);
  });

  afterAll(async () => {
    await queue.stopProcessing();
    await queue.jobs.obliterate().catch(() => undefined);
    await t.close();
    await deletePrefix(t.prefix);
  });

  const post = (path: string, body: unknown) =>
    request(t.server)
      .post(path)
      .set(auth())
      .send(body as object);
  const fields = (res: request.Response) =>
    res.body.error.details.fields.map((f: { field: string }) => f.field);

  it('submits a DAG with local refs, shows its tasks, and runs it with inputs from dependencies', async () => {
    const res = await post('/v1/workflows', {
      name: 'review-then-docs',
      tasks: [
        { ref: 'review', capability: 'code-review', payload: { pr: 7 } },
        { ref: 'docs', capability: 'documentation', dependsOn: ['review'] },
      ],
    }).expect(201);
    const id = res.body.workflow.id as string;
    const got = await request(t.server).get(`/v1/workflows/${id}`).set(auth()).expect(200);
    const byRef = Object.fromEntries(
      got.body.tasks.map((x: { ref: string; status: string }) => [x.ref, x.status]),
    );
    expect(byRef).toEqual({ review: 'READY', docs: 'BLOCKED' });

    const seenInputs: unknown[] = [];
    await queue.startProcessing(
      async (task) => {
        seenInputs.push(task.inputs);
        return { kind: 'completed', result: { by: task.ref } };
      },
      { concurrency: 2 },
    );
    for (let i = 0; i < 200; i++) {
      const wf = await request(t.server).get(`/v1/workflows/${id}`).set(auth()).expect(200);
      if (wf.body.workflow.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await queue.stopProcessing();
    const done = await request(t.server).get(`/v1/workflows/${id}`).set(auth()).expect(200);
    expect(done.body.workflow).toMatchObject({ status: 'COMPLETED', total: 2, completed: 2 });
    const docs = done.body.tasks.find((x: { ref: string }) => x.ref === 'docs');
    expect(docs.inputs.review).toEqual({ by: 'review' });
    expect(seenInputs).toContainEqual(expect.objectContaining({ review: { by: 'review' } }));
  });

  it('refuses a workflow with a cycle, naming the cycle', async () => {
    const res = await post('/v1/workflows', {
      tasks: [
        { ref: 'a', capability: 'x', dependsOn: ['c'] },
        { ref: 'b', capability: 'x', dependsOn: ['a'] },
        { ref: 'c', capability: 'x', dependsOn: ['b'] },
      ],
    }).expect(400);
    expect(new Set(res.body.error.details.cycle)).toEqual(new Set(['a', 'b', 'c']));
    expect(res.body.error.message).toMatch(/cycle/);
  });

  it('refuses an unknown dependency ref, naming the field', async () => {
    const res = await post('/v1/workflows', {
      tasks: [
        { ref: 'a', capability: 'x' },
        { ref: 'b', capability: 'x', dependsOn: ['a', 'ghost'] },
      ],
    }).expect(400);
    expect(fields(res)).toEqual(['tasks.1.dependsOn.1']);
  });

  it.each([
    [{ tasks: [] }, 'tasks'],
    [{ tasks: [{ ref: 'a', capability: 'x', priority: 42 }] }, 'tasks.0.priority'],
    [{ tasks: [{ ref: 'a' }] }, 'tasks.0.capability'],
    [{ tasks: [{ ref: 'a', capability: 'x', bogus: 1 }] }, 'tasks.0.bogus'],
    [
      {
        tasks: [
          { ref: 'a', capability: 'x' },
          { ref: 'a', capability: 'y' },
        ],
      },
      'tasks.1.ref',
    ],
    [{ tasks: [{ ref: 'bad ref', capability: 'x' }] }, 'tasks.0.ref'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const res = await post('/v1/workflows', body).expect(400);
    expect(fields(res)).toContain(field);
  });

  it('answers 413 for an oversized task payload', async () => {
    const res = await post('/v1/workflows', {
      tasks: [
        { ref: 'a', capability: 'x' },
        { ref: 'b', capability: 'x', payload: { blob: 'z'.repeat(2000) } },
      ],
    }).expect(413);
    expect(res.body.error.details.fields[0].field).toBe('tasks.1.payload');
  });

  it('returns the same workflow for the same idempotency key', async () => {
    const body = { idempotencyKey: 'wf-key-1', tasks: [{ ref: 'only', capability: 'x' }] };
    const a = await post('/v1/workflows', body).expect(201);
    const b = await post('/v1/workflows', body).expect(200);
    expect(b.body.workflow.id).toBe(a.body.workflow.id);
    expect(b.body.tasks).toHaveLength(1);
  });

  it('cancels a workflow (409 the second time, 404 unknown)', async () => {
    const res = await post('/v1/workflows', {
      tasks: [
        { ref: 'a', capability: 'x' },
        { ref: 'b', capability: 'x', dependsOn: ['a'] },
      ],
    }).expect(201);
    const id = res.body.workflow.id as string;
    const c = await post(`/v1/workflows/${id}/cancel`, {}).expect(200);
    expect(c.body).toMatchObject({ cancelled: 2, workflow: { status: 'CANCELLED' } });
    await post(`/v1/workflows/${id}/cancel`, {}).expect(409);
    await post('/v1/workflows/nope/cancel', {}).expect(404);
    await request(t.server).get('/v1/workflows/nope').set(auth()).expect(404);
  });

  it('links a workflow to a task outside it (dependsOnTasks)', async () => {
    await post('/v1/tasks', { id: 'external-1', capability: 'x', priority: 1 }).expect(201);
    const res = await post('/v1/workflows', {
      tasks: [{ ref: 'a', capability: 'x', dependsOnTasks: ['external-1'] }],
    }).expect(201);
    expect(res.body.tasks[0]).toMatchObject({ status: 'BLOCKED', dependsOn: ['external-1'] });
  });
});
