import { buildInputs, decodeTask, flatToObject } from './task-record.codec';

describe('task record codec', () => {
  it('decodes the Redis hash into a TaskRecord', () => {
    const t = decodeTask({
      id: 't1',
      wf: 'w1',
      ref: 'review',
      desc: '',
      cap: 'code-review',
      payload: '{"pr":1}',
      prio: '7',
      deps: '["t0"]',
      onDep: 'fail',
      timeout: '1000',
      retry: '{"maxRetries":3,"baseDelayMs":2000,"maxDelayMs":60000,"jitter":[0.8,1.2]}',
      status: 'RUNNING',
      attempt: '1',
      created: '0',
      updated: '1000',
      started: '1000',
      runs: '1',
    });
    expect(t).toEqual({
      id: 't1',
      rootTaskId: 't1',
      depth: 0,
      workflowId: 'w1',
      ref: 'review',
      capability: 'code-review',
      payload: { pr: 1 },
      priority: 7,
      dependsOn: ['t0'],
      onDependencyFailure: 'fail',
      timeoutMs: 1000,
      retry: { maxRetries: 3, baseDelayMs: 2000, maxDelayMs: 60000, jitter: [0.8, 1.2] },
      status: 'RUNNING',
      attempt: 1,
      createdAt: '1970-01-01T00:00:00.000Z',
      updatedAt: '1970-01-01T00:00:01.000Z',
      startedAt: '1970-01-01T00:00:01.000Z',
      runs: 1,
    });
  });

  it('decodes a compact record (unset fields absent) like one with the empty fields earlier versions stored', () => {
    const compact = {
      id: 't2',
      cap: 'x',
      payload: 'null',
      prio: '5',
      deps: '[]',
      timeout: '300000',
      status: 'COMPLETED',
      attempt: '0',
      gen: '1',
      runs: '1',
      created: '0',
      updated: '2000',
      seq: '4',
      started: '1000',
      finished: '2000',
      result: 'null',
    };
    const legacy = {
      ...compact,
      wf: '',
      ref: '',
      desc: '',
      onDep: 'fail',
      retry: '',
      idem: '',
      reason: '',
      readyAt: '500',
    };
    expect(decodeTask(compact)).toEqual(decodeTask(legacy));
    expect(decodeTask(compact)).toMatchObject({ onDependencyFailure: 'fail', result: null });
    expect(decodeTask(compact)).not.toHaveProperty('workflowId');
    expect(decodeTask(compact)).not.toHaveProperty('reason');
  });

  it('builds inputs from completed dependencies, by id and by ref within the workflow', () => {
    expect(
      buildInputs('w1', [
        ['a', 'review', 'w1', 'COMPLETED', '{"ok":true}'],
        ['b', 'other', 'w2', 'COMPLETED', '2'],
        ['c', '', '', 'FAILED', ''],
      ]),
    ).toEqual({ a: { ok: true }, review: { ok: true }, b: 2 });
    expect(buildInputs('w1', [])).toBeUndefined();
  });

  it('turns a flat HGETALL reply into an object', () => {
    expect(flatToObject(['a', '1', 'b', '2'])).toEqual({ a: '1', b: '2' });
  });
});
