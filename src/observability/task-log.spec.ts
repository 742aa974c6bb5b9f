import { setupTracing, withSpan } from './tracing';
import { taskLine } from './task-log';

describe('taskLine', () => {
  beforeAll(() => setupTracing({ enabled: true, serviceName: 'task-log-spec', sampleRatio: 1 }));

  it('names the task with the log fields Loki indexes', () => {
    expect(
      taskLine('m', { taskId: 't1', agentId: 'a@w', workflowId: 'wf', attempt: 0 }, { ms: 3 }),
    ).toEqual({ msg: 'm', task_id: 't1', agent_id: 'a@w', workflow_id: 'wf', attempt: 0, ms: 3 });
  });

  // Nest buffers the lines logged while an app boots (bufferLogs) and writes them afterwards,
  // outside any span, so pino's mixin finds no active span then: a worker that takes a task while
  // booting logged "received by" without the trace id (logs.e2e failed ~1 run in 4).
  it('carries the active span ids from when the line is made, not when it is written', async () => {
    let line: Record<string, unknown> = {};
    let ids: { traceId: string; spanId: string } | undefined;
    await withSpan('task_execution', {}, async (span) => {
      ids = span.spanContext();
      line = taskLine('received', { taskId: 't1' });
    });
    expect(line).toMatchObject({ trace_id: ids!.traceId, span_id: ids!.spanId, task_id: 't1' });
    expect(taskLine('outside', { taskId: 't1' })).not.toHaveProperty('trace_id');
  });
});
