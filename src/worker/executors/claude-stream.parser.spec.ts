import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClaudeStreamParser, type ClaudeStep, summarizeToolInput } from './claude-stream.parser';

const SAMPLES = join(__dirname, '../../../test/fixtures/claude-code');
const sample = (file: string) => readFileSync(join(SAMPLES, file));

function parse(
  buf: Buffer,
  chunkSize = buf.length,
): { parser: ClaudeStreamParser; steps: ClaudeStep[] } {
  const steps: ClaudeStep[] = [];
  const parser = new ClaudeStreamParser((s) => steps.push(s));
  for (let i = 0; i < buf.length; i += chunkSize) parser.push(buf.subarray(i, i + chunkSize));
  parser.end();
  return { parser, steps };
}

describe('ClaudeStreamParser on the recorded Claude Code 2.1.331 streams', () => {
  it('turns sample-stream.jsonl into init, tool call, tool result, text and result steps, in order', () => {
    const { parser, steps } = parse(sample('sample-stream.jsonl'));
    expect(steps.map((s) => s.kind)).toEqual([
      'init',
      'tool_call',
      'tool_result',
      'text',
      'result',
    ]);
    expect(steps[0].data).toMatchObject({
      sessionId: 'a4b724fd-84d5-4f3f-89e5-98f952193c64',
      model: 'claude-opus-5-5',
    });
    expect(steps[0].summary).toContain('MCP switchyard:connected');
    expect(steps[1]).toMatchObject({
      turn: 1,
      data: { tool: 'mcp__switchyard__delegate', input: 'capability=echo' },
    });
    expect(steps[2]).toMatchObject({
      data: { tool: 'mcp__switchyard__delegate', bytes: 35, isError: false },
    });
    expect(steps[3]).toMatchObject({
      turn: 2,
      summary: expect.stringContaining('Delegation finished'),
    });
    expect(steps[4].data).toMatchObject({
      subtype: 'success',
      isError: false,
      turns: 2,
      costUsd: 0.103028,
    });
    expect(parser.result).toMatchObject({
      is_error: false,
      num_turns: 2,
      terminal_reason: 'completed',
    });
    expect(parser.sessionId).toBe('a4b724fd-84d5-4f3f-89e5-98f952193c64');
    expect(parser.turns).toBe(2);
    expect(parser.mcpServers).toEqual([{ name: 'switchyard', status: 'connected' }]);
    expect(parser.events).toBe(5);
  });

  it('gives the same steps whatever the chunking (lines split across reads)', () => {
    const whole = parse(sample('sample-stream.jsonl')).steps;
    expect(parse(sample('sample-stream.jsonl'), 7).steps).toEqual(whole);
    expect(parse(sample('sample-stream.jsonl'), 1).steps).toEqual(whole);
  });

  it('records api_retry events and the synthetic API error message of a rate-limited run', () => {
    const { parser, steps } = parse(sample('sample-ratelimit-stream.jsonl'));
    expect(steps.map((s) => s.kind)).toEqual([
      'init',
      'api_retry',
      'api_retry',
      'api_error',
      'result',
    ]);
    expect(parser.apiRetries).toEqual([
      { attempt: 1, maxRetries: 2, retryDelayMs: 1175, errorStatus: 429, error: 'rate_limit' },
      { attempt: 2, maxRetries: 2, retryDelayMs: 1138, errorStatus: 429, error: 'rate_limit' },
    ]);
    expect(parser.apiError).toEqual({
      text: expect.stringContaining('429'),
      status: 429,
      type: 'rate_limit_error',
    });
    expect(parser.turns).toBe(0);
    expect(parser.result).toMatchObject({
      is_error: true,
      subtype: 'success',
      terminal_reason: 'api_error',
      api_error_status: 429,
      api_error_type: 'rate_limit_error',
    });
  });

  it('reads the single result objects of --output-format json', () => {
    for (const file of [
      'sample-result.json',
      'sample-permission-denied.json',
      'sample-overloaded.json',
      'sample-ratelimit.json',
    ]) {
      const { parser } = parse(sample(file));
      expect(parser.result?.type).toBe('result');
    }
    expect(
      parse(sample('sample-permission-denied.json')).parser.result?.permission_denials,
    ).toEqual([
      {
        tool_name: 'mcp__switchyard__delegate',
        tool_use_id: 'toolu_stub_e437c5f17ffc4adbb647',
        tool_input: { capability: 'echo', payload: { marker: 'MARK-noperm' } },
      },
    ]);
  });

  it('sees only system/init in a stalled run, and no result', () => {
    const { parser, steps } = parse(sample('sample-stall.jsonl'));
    expect(steps.map((s) => s.kind)).toEqual(['init']);
    expect(parser.result).toBeUndefined();
    expect(parser.sessionId).toBe('ae47d6ab-f44f-4aa2-8275-6e9c831e1318');
  });

  it('counts non-JSON lines without failing and bounds summaries', () => {
    const steps: ClaudeStep[] = [];
    const parser = new ClaudeStreamParser((s) => steps.push(s));
    const long = 'x'.repeat(5000);
    parser.push(
      Buffer.from(
        `warning: not json\n{"type":"assistant","message":{"id":"m","content":[{"type":"text","text":"${long}"}]}}\n`,
      ),
    );
    parser.end();
    expect(parser.badLines).toBe(1);
    expect(parser.firstBadLine).toBe('warning: not json');
    expect(steps[0].summary.length).toBeLessThanOrEqual(600);
  });

  it('summarises tool inputs by their telling field', () => {
    expect(summarizeToolInput('Bash', { command: 'npm test', description: 'x' })).toBe(
      'command=npm test',
    );
    expect(summarizeToolInput('Read', { file_path: '/a/b.ts' })).toBe('file_path=/a/b.ts');
    expect(summarizeToolInput('Other', { a: 1 })).toBe('{"a":1}');
  });
});
