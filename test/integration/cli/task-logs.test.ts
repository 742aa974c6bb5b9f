import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from '../../../src/cli/api-client';
import { renderStep, taskLogs, type ProgressStepView } from '../../../src/cli/task-logs';

/** A stand-in for GET /v1/tasks/{id}/progress: steps appear over time, then the task completes. */
function controlPlane(): {
  server: Server;
  urls: string[];
  publish(step: ProgressStepView): void;
  finish(): void;
} {
  const steps: ProgressStepView[] = [];
  let status = 'RUNNING';
  const urls: string[] = [];
  const server = createServer((req, res) => {
    urls.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const afterAttempt = url.searchParams.get('afterAttempt');
    const afterSeq = Number(url.searchParams.get('afterSeq') ?? -1);
    const page = steps.filter(
      (s) =>
        afterAttempt === null ||
        s.attempt > Number(afterAttempt) ||
        (s.attempt === Number(afterAttempt) && s.seq > afterSeq),
    );
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ taskId: 't1', status, steps: page }));
  });
  return {
    server,
    urls,
    publish: (s) => steps.push(s),
    finish: () => {
      status = 'COMPLETED';
    },
  };
}

const step = (seq: number, kind: string, summary: string): ProgressStepView => ({
  attempt: 0,
  seq,
  at: `2026-12-01T14:00:0${seq}.000Z`,
  kind,
  summary,
  turn: 1,
});

describe('switchyard task logs', () => {
  it('prints stored steps, follows new ones without repeats, and stops when the task ends', async () => {
    const cp = controlPlane();
    await new Promise<void>((r) => cp.server.listen(0, '127.0.0.1', r));
    const api = new ApiClient({
      url: `http://127.0.0.1:${(cp.server.address() as AddressInfo).port}`,
    });
    const lines: string[] = [];
    cp.publish(step(0, 'init', 'session s started'));
    const following = taskLogs(api, 't1', { follow: true, pollMs: 50 }, (l) => lines.push(l));
    await new Promise((r) => setTimeout(r, 150));
    cp.publish(step(1, 'tool_call', 'Read file_path=a.ts'));
    await new Promise((r) => setTimeout(r, 150));
    cp.publish(step(2, 'result', 'success after 1 turn(s)'));
    cp.finish();
    expect(await following).toBe('COMPLETED');
    cp.server.close();
    expect(lines).toEqual([
      '14:00:00  #0.0  t1  init        session s started',
      '14:00:01  #0.1  t1  tool_call   Read file_path=a.ts',
      '14:00:02  #0.2  t1  result      success after 1 turn(s)',
      'task t1 COMPLETED',
    ]);
    expect(cp.urls.some((u) => u.includes('afterAttempt=0&afterSeq=1'))).toBe(true);
  });

  it('renders a step on one line', () => {
    expect(renderStep({ ...step(3, 'text', 'hello'), turn: undefined })).toBe(
      '14:00:03  #0.3      text        hello',
    );
  });
});
