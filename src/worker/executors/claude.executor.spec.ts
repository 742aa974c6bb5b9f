import { agentDef } from '../../../test/support/worker-fixtures';
import {
  buildClaudeArgs,
  buildClaudePrompt,
  extractJson,
  parseClaudeStdout,
} from './claude.executor';

describe('claude executor mapping', () => {
  it('maps an agent definition to claude -p flags', () => {
    const agent = agentDef({
      name: 'r',
      executor: 'claude',
      systemPrompt: '  You review code.  ',
      tools: ['Read', 'Grep'],
      disallowedTools: ['Bash'],
      model: 'opus',
      maxTurns: 4,
      permissionMode: 'acceptEdits',
    });
    expect(buildClaudeArgs(agent, 'replace')).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--system-prompt',
      'You review code.',
      '--allowedTools',
      'Read,Grep',
      '--disallowedTools',
      'Bash',
      '--model',
      'opus',
      '--max-turns',
      '4',
      '--permission-mode',
      'acceptEdits',
    ]);
    expect(
      buildClaudeArgs(
        agentDef({ name: 'x', executor: 'claude', model: 'inherit', tools: [] }),
        'append',
      ),
    ).toEqual(['-p', '--output-format', 'stream-json', '--verbose']);
  });

  it('adds the Switchyard MCP server (and always allows its tools) unless the agent says mcp: false', () => {
    const switchyard = { url: 'http://127.0.0.1:3000/', token: 'tok' };
    const agent = agentDef({ name: 'a', executor: 'claude', tools: ['Read'] });
    const args = buildClaudeArgs(agent, 'replace', { switchyard, resumeSessionId: 's-1' });
    expect(buildClaudeArgs(agent, 'replace', { maxBudgetUsd: 0.123456 })).toEqual(
      expect.arrayContaining(['--max-budget-usd', '0.1235']),
    );
    expect(args.slice(0, 6)).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--resume',
      's-1',
    ]);
    expect(args).toContain('Read,mcp__switchyard__*');
    const i = args.indexOf('--mcp-config');
    expect(JSON.parse(args[i + 1])).toEqual({
      mcpServers: {
        switchyard: {
          type: 'http',
          url: 'http://127.0.0.1:3000/mcp',
          headers: { Authorization: 'Bearer tok' },
        },
      },
    });
    expect(args[i + 2]).toBe('--strict-mcp-config');
    const allTools = buildClaudeArgs(agentDef({ name: 'b', executor: 'claude' }), 'replace', {
      switchyard,
    });
    expect(allTools).toContain('mcp__switchyard__*');
    const off = buildClaudeArgs(
      agentDef({ name: 'c', executor: 'claude', mcp: false, tools: ['Read'] }),
      'replace',
      {
        switchyard,
      },
    );
    expect(off).not.toContain('--mcp-config');
    expect(off).toContain('Read');
    expect(off.join(' ')).not.toContain('mcp__switchyard');
  });

  it('passes what is left of the budget as --max-budget-usd, and nothing without a budget', () => {
    const agent = agentDef({ name: 'c', executor: 'claude' });
    const args = buildClaudeArgs(agent, 'replace', { maxBudgetUsd: 0.25 });
    const i = args.indexOf('--max-budget-usd');
    expect(i).toBeGreaterThan(0);
    expect(args[i + 1]).toBe('0.25');
    expect(buildClaudeArgs(agent, 'replace', {})).not.toContain('--max-budget-usd');
  });

  it('builds the prompt from the payload prompt, the payload and the inputs', () => {
    const prompt = buildClaudePrompt({
      taskId: 't',
      attempt: 2,
      capability: 'documentation',
      payload: { prompt: 'Write the docs.', outPath: 'x.md' },
      inputs: { review: { findings: [] } },
      workflowId: 'w',
      ref: 'docs',
    });
    expect(prompt).toContain(
      'task t (capability "documentation", attempt 2) in workflow w as "docs"',
    );
    expect(prompt).toContain('Write the docs.');
    expect(prompt).toContain('"outPath": "x.md"');
    expect(prompt).toContain('"review": {');
    expect(
      buildClaudePrompt({ taskId: 't', attempt: 0, capability: 'c', payload: 'hi' }),
    ).not.toContain('depends on');
  });

  it('parses a result object, a verbose message array and stream-json lines', () => {
    const result = {
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: 'ok',
      num_turns: 1,
    };
    expect(parseClaudeStdout(JSON.stringify(result))).toMatchObject({ result: 'ok' });
    expect(
      parseClaudeStdout(JSON.stringify([{ type: 'system' }, { type: 'assistant' }, result])),
    ).toMatchObject({ num_turns: 1 });
    expect(parseClaudeStdout(`{"type":"system"}\n${JSON.stringify(result)}\n`)).toMatchObject({
      subtype: 'success',
    });
    expect(parseClaudeStdout('nope')).toBeUndefined();
    expect(parseClaudeStdout('{"type":"assistant"}')).toBeUndefined();
  });

  it('extracts JSON answers, bare or fenced', () => {
    expect(extractJson('{"a":1}')).toEqual({ a: 1 });
    expect(extractJson('```json\n[1,2]\n```')).toEqual([1, 2]);
    expect(extractJson('The answer is 42.')).toBeUndefined();
    expect(extractJson('{broken')).toBeUndefined();
  });
});
