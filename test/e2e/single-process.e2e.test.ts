import { join } from 'node:path';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import request from 'supertest';
import type { AgentMessage } from '../../src/bus/agent-message.schema';
import { MessageBus } from '../../src/bus/message-bus';
import { DiscoveryService } from '../../src/discovery/discovery.service';
import { EventsService } from '../../src/events/events.service';
import type { SwitchyardEvent } from '../../src/events/switchyard-event.type';
import type { TaskResultPayload } from '../../src/contracts/task-message.schema';
import { BreakerRegistry } from '../../src/resilience/breaker-registry.service';
import { EmbeddedWorkerModule } from '../../src/worker/embedded-worker.module';
import { WorkerService } from '../../src/worker/worker.service';
import { deletePrefix } from '../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../support/test-app';

const AGENTS = join(__dirname, '..', 'fixtures', 'embedded-agents');

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('single process: control plane + in-process agents on the memory bus (e2e)', () => {
  let t: TestApp;
  const events: SwitchyardEvent[] = [];

  const task = (id: string) =>
    request(t.server)
      .get(`/v1/tasks/${id}`)
      .set(auth())
      .then(
        (r) =>
          r.body as {
            status: string;
            result?: unknown;
            error?: { type: string };
            agentId?: string;
            reason?: string;
          },
      );

  const finished = (id: string) =>
    until(`task ${id} to finish`, async () => {
      const r = await task(id);
      return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.status) ? r : undefined;
    });

  const submit = async (body: Record<string, unknown>) => {
    const res = await request(t.server).post('/v1/tasks').set(auth()).send(body).expect(201);
    return (res.body as { id: string }).id;
  };

  beforeAll(async () => {
    t = await startTestApp(
      {
        BREAKER_FAILURE_THRESHOLD: '2',
        ORCHESTRATOR_NO_AGENT_RETRY_MS: '50',
        ORCHESTRATOR_CANDIDATE_CACHE_MS: '0',
        WORKER_ID: 'embedded',
      },
      [EmbeddedWorkerModule.forAgents(AGENTS)],
    );
    t.app.get(EventsService).subscribe((e) => events.push(e));
    // Agents delegate through the control plane's HTTP API (MCP with their task credential).
    await t.app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('cancelling running tasks does not count against a healthy agent’s breaker', async () => {
    // BREAKER_FAILURE_THRESHOLD is 2 here: three cancels would open it if they counted.
    for (let i = 0; i < 3; i++) {
      const id = await submit({ capability: 'sleepy', payload: { ms: 30_000 } });
      await until(`task ${id} to run`, async () =>
        (await task(id)).status === 'RUNNING' ? true : undefined,
      );
      await request(t.server).post(`/v1/tasks/${id}/cancel`).set(auth()).expect(200);
      expect((await finished(id)).status).toBe('CANCELLED');
    }
    expect(t.app.get(BreakerRegistry).state('sleeper@embedded')).toBe('closed');
    const ok = await submit({ capability: 'sleepy', payload: { ms: 1 } });
    expect((await finished(ok)).status).toBe('COMPLETED');
  });

  it('registers each hosted agent as <name>@<workerId>', async () => {
    expect(t.app.get(WorkerService).registeredIds).toEqual(
      expect.arrayContaining(['echo@embedded', 'sleeper@embedded']),
    );
    const res = await request(t.server).get('/v1/agents?capability=echo').set(auth()).expect(200);
    expect(res.body.items.map((a: { id: string }) => a.id)).toEqual(['echo@embedded']);
  });

  it('runs a task on the agent with its capability and stores the result', async () => {
    const id = await submit({ capability: 'echo', payload: { hello: 'world' } });
    const done = await finished(id);
    expect(done).toMatchObject({
      status: 'COMPLETED',
      result: { hello: 'world' },
      agentId: 'echo@embedded',
    });
  });

  it('fails a task whose agent fails non-retryably, with the agent error type', async () => {
    const id = await submit({ capability: 'always-fails', payload: { message: 'nope' } });
    const done = await finished(id);
    expect(done.status).toBe('FAILED');
    expect(done.error?.type).toBe('handler_error');
  });

  it('retries a flaky agent until it succeeds', async () => {
    // One failure: below BREAKER_FAILURE_THRESHOLD (2), so the same agent gets the retry.
    const id = await submit({
      capability: 'flaky',
      payload: { failTimes: 1 },
      retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 20 },
    });
    const done = await finished(id);
    expect(done.status).toBe('COMPLETED');
    expect(done.result).toMatchObject({ calls: 2 });
  });

  it('cancels a running task and aborts its execution', async () => {
    const id = await submit({ capability: 'sleepy', payload: { ms: 30_000 } });
    await until('the task to run', async () =>
      (await task(id)).status === 'RUNNING' ? true : undefined,
    );
    const t0 = Date.now();
    await request(t.server).post(`/v1/tasks/${id}/cancel`).set(auth()).expect(200);
    expect((await finished(id)).status).toBe('CANCELLED');
    await until('the execution to stop', async () =>
      t.app.get(WorkerService)['runtime']?.isRunning(id) ? undefined : true,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('delegates: agent A submits a child task to agent B and gets its result', async () => {
    const id = await submit({
      capability: 'delegation',
      payload: { capability: 'echo', payload: { x: 1 } },
    });
    const done = await finished(id);
    expect(done).toMatchObject({
      status: 'COMPLETED',
      result: { capability: 'echo', result: { x: 1 } },
    });
  });

  it('runs review-and-document: the reviewer result reaches the doc-writer, which writes the report', async () => {
    const out = `reports/test-${process.pid}-${Date.now()}.md`;
    const res = await request(t.server)
      .post('/v1/workflows')
      .set(auth())
      .send({
        name: 'review-and-document',
        tasks: [
          {
            ref: 'review',
            capability: 'code-review',
            payload: { path: 'test/fixtures/review-sample' },
          },
          {
            ref: 'docs',
            capability: 'documentation',
            dependsOn: ['review'],
            payload: { outPath: out },
          },
        ],
      })
      .expect(201);
    const wfId = (res.body.workflow?.id ?? res.body.id) as string;
    const wf = await until('the workflow to finish', async () => {
      const r = await request(t.server).get(`/v1/workflows/${wfId}`).set(auth());
      return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.body.workflow.status)
        ? r.body
        : undefined;
    });
    try {
      expect(wf.workflow.status).toBe('COMPLETED');
      expect(existsSync(out)).toBe(true);
      const md = readFileSync(out, 'utf8');
      expect(md).toMatch(/review-sample/);
    } finally {
      rmSync(out, { force: true });
    }
  });

  it('keeps a task waiting (not failed) while no agent has its capability, then runs it when one appears', async () => {
    const id = await submit({ capability: 'late-capability', payload: { n: 1 } });
    await until('a task.waiting event', async () =>
      events.some((e) => e.type === 'task.waiting' && e.taskId === id) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(['READY', 'RUNNING']).toContain((await task(id)).status);

    // An external agent (not a Switchyard worker) registers and answers over the bus itself.
    const bus = t.app.get(MessageBus);
    const sub = await bus.subscribe('late-agent', async (m: AgentMessage) => {
      const reply: TaskResultPayload = { ok: true, output: { handledBy: 'late-agent' } };
      await bus.sendResponse(m, {
        fromAgent: 'late-agent',
        messageType: 'response',
        payload: reply,
        attempt: m.attempt,
      });
    });
    await t.app
      .get(DiscoveryService)
      .register({ id: 'late-agent', capabilities: ['late-capability'], maxLoad: 2 });
    try {
      const done = await finished(id);
      expect(done).toMatchObject({
        status: 'COMPLETED',
        result: { handledBy: 'late-agent' },
        agentId: 'late-agent',
      });
    } finally {
      await sub.cancel();
    }
  });

  it('routes around a failing agent: its breaker opens and the fallback agent runs the tasks', async () => {
    const bus = t.app.get(MessageBus);
    const discovery = t.app.get(DiscoveryService);
    const answer = (ok: boolean) => async (m: AgentMessage) => {
      const reply: TaskResultPayload = ok
        ? { ok: true, output: { by: m.toAgent } }
        : { ok: false, error: { type: 'upstream_error', message: 'crashed', retryable: true } };
      await bus.sendResponse(m, {
        fromAgent: m.toAgent,
        messageType: 'response',
        payload: reply,
        attempt: m.attempt,
      });
    };
    const subs = [
      await bus.subscribe('pool-bad', answer(false)),
      await bus.subscribe('pool-good', answer(true)),
    ];
    // The bad agent looks best (least loaded, same load: id order) so it is tried first.
    await discovery.register({ id: 'pool-bad', capabilities: ['pool'], maxLoad: 10 });
    await discovery.register({ id: 'pool-good', capabilities: ['pool'], maxLoad: 10 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        ids.push(
          await submit({
            capability: 'pool',
            payload: { i },
            retry: { maxRetries: 5, baseDelayMs: 10, maxDelayMs: 20 },
          }),
        );
      }
      for (const id of ids) {
        const done = await finished(id);
        expect(done).toMatchObject({
          status: 'COMPLETED',
          agentId: 'pool-good',
          result: { by: 'pool-good' },
        });
      }
      expect(t.app.get(BreakerRegistry).state('pool-bad')).toBe('open');
      const breakers = await request(t.server)
        .get('/v1/circuit-breakers/pool-bad')
        .set(auth())
        .expect(200);
      expect(JSON.stringify(breakers.body)).toMatch(/open/i);
    } finally {
      for (const s of subs) await s.cancel();
    }
  });
});
