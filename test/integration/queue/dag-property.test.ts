import fc from 'fast-check';
import type { DependencyFailurePolicy, TaskHandlerOutcome } from '../../../src/queue/task.types';
import { TERMINAL_STATUSES, TaskStatus } from '../../../src/queue/task.types';
import { eventually, type QueueHarness, startQueue } from './queue-harness';

interface DagSpec {
  tasks: {
    priority: number;
    deps: number[];
    policy: DependencyFailurePolicy;
    /** Outcome per attempt: 'ok', a retryable error, or a permanent one. */
    script: ('ok' | 'transient' | 'permanent')[];
  }[];
}

const dagArb: fc.Arbitrary<DagSpec> = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc
    .tuple(
      ...Array.from({ length: n }, (_, i) =>
        fc.record({
          priority: fc.integer({ min: 1, max: 10 }),
          deps:
            i === 0
              ? fc.constant<number[]>([])
              : fc.uniqueArray(fc.integer({ min: 0, max: i - 1 }), { maxLength: 3 }),
          policy: fc.constantFrom<DependencyFailurePolicy>('fail', 'fail', 'skip', 'continue'),
          script: fc.array(
            fc.constantFrom<'ok' | 'transient' | 'permanent'>(
              'ok',
              'ok',
              'ok',
              'transient',
              'permanent',
            ),
            {
              minLength: 1,
              maxLength: 3,
            },
          ),
        }),
      ),
    )
    .map((tasks) => ({ tasks })),
);

describe('random DAGs with injected failures (property)', () => {
  let h: QueueHarness;
  let run = 0;
  /** Per run: what the handler saw and did. */
  const log: {
    event: 'start' | 'end';
    ref: string;
    attempt: number;
    outcome?: string;
    seq: number;
  }[] = [];
  let seq = 0;
  let current: DagSpec | undefined;

  beforeAll(async () => {
    h = await startQueue({
      QUEUE_RETRY_BASE_DELAY_MS: '1',
      QUEUE_RETRY_MAX_DELAY_MS: '5',
      QUEUE_RETRY_MAX_RETRIES: '1',
    });
    await h.queue.startProcessing(
      async (task): Promise<TaskHandlerOutcome> => {
        const i = Number(task.ref!.slice(1));
        const script = current!.tasks[i].script;
        const step = script[Math.min(task.attempt, script.length - 1)];
        log.push({ event: 'start', ref: task.ref!, attempt: task.attempt, seq: seq++ });
        await new Promise((r) => setImmediate(r));
        log.push({
          event: 'end',
          ref: task.ref!,
          attempt: task.attempt,
          outcome: step,
          seq: seq++,
        });
        if (step === 'ok')
          return { kind: 'completed', result: { ref: task.ref, inputs: task.inputs ?? {} } };
        return {
          kind: 'failed',
          error: {
            type: step === 'transient' ? 'timeout' : 'validation',
            message: step,
            retryable: step === 'transient',
          },
        };
      },
      { concurrency: 4 },
    );
  });

  afterAll(async () => {
    await h.close();
  });

  it('every task ends terminal, COMPLETED ones ran after their dependencies, none twice, none stuck', async () => {
    await fc.assert(
      fc.asyncProperty(dagArb, async (spec) => {
        run++;
        current = spec;
        log.length = 0;
        const completedBefore = h.events.filter((e) => e.type === 'task.completed').length;
        const { workflow } = await h.queue.submitWorkflow({
          tasks: spec.tasks.map((t, i) => ({
            ref: `t${i}`,
            capability: 'prop',
            priority: t.priority,
            dependsOn: t.deps.map((d) => `t${d}`),
            onDependencyFailure: t.policy,
            payload: { run },
          })),
        });
        await eventually(
          async () => (await h.queue.getWorkflow(workflow.id)).workflow.status !== 'RUNNING',
          10_000,
        );
        const { tasks } = await h.queue.getWorkflow(workflow.id);
        const byRef = new Map(tasks.map((t) => [t.ref!, t]));
        const endOf = (ref: string) =>
          log.find((l) => l.event === 'end' && l.ref === ref && l.outcome === 'ok');
        for (const t of tasks) {
          expect(TERMINAL_STATUSES.has(t.status)).toBe(true);
          const spec_ = spec.tasks[Number(t.ref!.slice(1))];
          if (t.status === TaskStatus.Completed) {
            const start = log.filter((l) => l.event === 'start' && l.ref === t.ref).at(-1)!;
            for (const d of spec_.deps) {
              const dep = byRef.get(`t${d}`)!;
              if (spec_.policy !== 'continue') expect(dep.status).toBe(TaskStatus.Completed);
              expect(TERMINAL_STATUSES.has(dep.status)).toBe(true);
              if (dep.status === TaskStatus.Completed) {
                expect(endOf(dep.ref!)!.seq).toBeLessThan(start.seq);
                expect((t.inputs ?? {})[dep.ref!]).toEqual(dep.result);
              }
            }
          } else if (t.status === TaskStatus.Failed && t.reason === 'upstream_failed') {
            expect(log.some((l) => l.ref === t.ref)).toBe(false);
          }
        }
        const completedIds = h.events
          .filter((e) => e.type === 'task.completed')
          .slice(completedBefore)
          .map((e) => e.taskId);
        expect(new Set(completedIds).size).toBe(completedIds.length);
        expect(completedIds.length).toBe(
          tasks.filter((t) => t.status === TaskStatus.Completed).length,
        );
        const counts = await h.queue.counts();
        expect(counts.running + counts.ready + counts.blocked + counts.delayed).toBe(0);
      }),
      { numRuns: 50 },
    );
  });
});
