import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { claudeResultSchema } from './claude-stream.parser';
import { parseResetTime, recognizeUsageLimit } from './claude-usage-limit';

const SAMPLES = join(__dirname, '../../../test/fixtures/claude-code');
const result = (file: string) =>
  claudeResultSchema.parse(JSON.parse(readFileSync(join(SAMPLES, file), 'utf8')));
const NOW = Date.parse('2026-12-01T14:00:00Z');
const opts = { now: NOW, backoffMs: 60_000 };

describe('recognizeUsageLimit', () => {
  it('recognises the recorded 429 result (is_error with subtype success) and backs off without a reset time', () => {
    expect(recognizeUsageLimit(result('sample-ratelimit.json'), [], opts)).toEqual({
      status: 429,
      errorType: 'rate_limit_error',
      retryAt: '2026-12-01T14:01:00.000Z',
      source: 'backoff',
      apiRetries: 0,
    });
  });

  it('recognises the recorded 529 overloaded result', () => {
    expect(recognizeUsageLimit(result('sample-overloaded.json'), [], opts)).toMatchObject({
      status: 529,
      errorType: 'overloaded_error',
    });
  });

  it('does not call a success or a denied tool a limit', () => {
    expect(recognizeUsageLimit(result('sample-result.json'), [], opts)).toBeUndefined();
    expect(recognizeUsageLimit(result('sample-permission-denied.json'), [], opts)).toBeUndefined();
    const other = {
      ...result('sample-result.json'),
      is_error: true,
      result: 'Credit balance is too low',
    };
    expect(recognizeUsageLimit(other, [], opts)).toBeUndefined();
  });

  it('takes the reset time from the text when there is one', () => {
    const r = {
      ...result('sample-ratelimit.json'),
      result: 'Claude AI usage limit reached|1796140800',
    };
    expect(recognizeUsageLimit(r, [], opts)).toMatchObject({
      retryAt: new Date(1796140800 * 1000).toISOString(),
      source: 'reset_time',
    });
  });
});

describe('parseResetTime', () => {
  it.each([
    ['limit reached|1796140800', 1796140800_000],
    ['resets at 2026-12-01T15:30:00Z', Date.parse('2026-12-01T15:30:00Z')],
    ['try again in 5 minutes', NOW + 300_000],
    ['retry after 30 seconds', NOW + 30_000],
    ['Your limit resets 3pm (UTC)', Date.parse('2026-12-01T15:00:00Z')],
    ['Your limit resets 1pm (UTC)', Date.parse('2026-12-02T13:00:00Z')],
    ['resets at 16:45 UTC', Date.parse('2026-12-01T16:45:00Z')],
  ])('%s', (text, expected) => {
    expect(parseResetTime(text, NOW)).toBe(expected);
  });

  it('ignores texts without a time and times in the past', () => {
    expect(parseResetTime('API Error: 529 Overloaded', NOW)).toBeUndefined();
    expect(parseResetTime('limit reached|1000000000', NOW)).toBeUndefined();
  });
});
