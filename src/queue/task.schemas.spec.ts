import { listTasksQuerySchema } from './task.schemas';
import { listRunsQuerySchema } from './workflow-list.query';

describe('enum filters are case-insensitive', () => {
  it('GET /v1/tasks?status=blocked', () => {
    expect(listTasksQuerySchema.parse({ status: 'blocked' }).status).toBe('BLOCKED');
    expect(listTasksQuerySchema.parse({ status: 'Failed' }).status).toBe('FAILED');
    expect(listTasksQuerySchema.safeParse({ status: 'done' }).success).toBe(false);
  });

  it('GET /v1/workflows?kind=ALL&status=failed', () => {
    const q = listRunsQuerySchema.parse({ kind: 'ALL', status: 'failed' });
    expect(q).toMatchObject({ kind: 'all', status: 'FAILED', limit: 100 });
    expect(listRunsQuerySchema.parse({}).kind).toBe('workflow');
    expect(listRunsQuerySchema.safeParse({ kind: 'jobs' }).success).toBe(false);
  });

  it('GET /v1/workflows time filters are ISO 8601', () => {
    expect(listRunsQuerySchema.parse({ since: '2026-12-01T10:00:00Z' }).since).toBe(
      Date.parse('2026-12-01T10:00:00Z'),
    );
    expect(listRunsQuerySchema.safeParse({ since: 'yesterday' }).success).toBe(false);
  });
});
