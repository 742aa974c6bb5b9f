import { summarizeReadyBacklog } from './ready-backlog.util';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const task = (
  capability: string,
  updatedAt: string,
  extra: { status?: string; retryAt?: string } = {},
) =>
  ({ capability, status: 'READY', updatedAt, ...extra }) as Parameters<
    typeof summarizeReadyBacklog
  >[0][number];

describe('summarizeReadyBacklog', () => {
  it('counts dispatchable READY tasks per capability and the oldest wait', () => {
    const r = summarizeReadyBacklog(
      [
        task('review', '2026-01-01T00:09:00Z'),
        task('review', '2026-01-01T00:05:00Z'),
        task('build', '2026-01-01T00:09:30Z'),
      ],
      NOW,
    );
    expect(Object.fromEntries(r.waiting)).toEqual({ review: 2, build: 1 });
    expect(r.oldestAgeSeconds).toBe(300);
  });

  it('leaves out tasks in a retry wait and tasks no longer READY', () => {
    const r = summarizeReadyBacklog(
      [
        task('review', '2026-01-01T00:00:00Z', { retryAt: '2026-01-01T00:11:00Z' }),
        task('review', '2026-01-01T00:00:00Z', { status: 'RUNNING' }),
      ],
      NOW,
    );
    expect(r.waiting.size).toBe(0);
    expect(r.oldestAgeSeconds).toBe(0);
  });

  it('measures a task whose retry wait is over from the end of the wait', () => {
    const r = summarizeReadyBacklog(
      [task('review', '2026-01-01T00:00:00Z', { retryAt: '2026-01-01T00:09:00Z' })],
      NOW,
    );
    expect(r.waiting.get('review')).toBe(1);
    expect(r.oldestAgeSeconds).toBe(60);
  });
});
