import { deriveCapabilities } from './derive-capabilities.util';

describe('deriveCapabilities', () => {
  it.each([
    [['Read'], ['read']],
    [['Grep'], ['read']],
    [['Glob'], ['read']],
    [['LS'], ['read']],
    [['Write'], ['write']],
    [['Edit'], ['write']],
    [['MultiEdit'], ['write']],
    [['NotebookEdit'], ['write']],
    [['Bash'], ['exec']],
    [['Bash(git status:*)'], ['exec']],
    [['WebFetch'], ['web']],
    [['WebSearch'], ['web']],
    [['Task'], ['delegate']],
    [['Agent'], ['delegate']],
    [['mcp__github__create_issue'], ['mcp:github']],
    [['mcp__github'], ['mcp:github']],
    [['mcp__claude_ai_Gmail__search'], ['mcp:claude_ai_Gmail']],
    [['TodoWrite'], []],
  ])('%j → %j plus the name', (tools, expected) => {
    expect(deriveCapabilities('me', tools)).toEqual([...expected, 'me'].sort());
  });

  it('no tools key means all tools', () => {
    expect(deriveCapabilities('me', undefined)).toEqual([
      'delegate',
      'exec',
      'me',
      'read',
      'web',
      'write',
    ]);
  });

  it('no tools at all leaves only the name', () => {
    expect(deriveCapabilities('me', [])).toEqual(['me']);
  });

  it('deduplicates and sorts', () => {
    expect(
      deriveCapabilities('zed', [
        'Write',
        'Read',
        'Edit',
        'Grep',
        'mcp__b__x',
        'mcp__a__y',
        'mcp__b__z',
      ]),
    ).toEqual(['mcp:a', 'mcp:b', 'read', 'write', 'zed']);
  });

  it('disallowed tools give nothing', () => {
    expect(deriveCapabilities('me', undefined, ['Bash', 'WebFetch', 'WebSearch'])).toEqual([
      'delegate',
      'me',
      'read',
      'write',
    ]);
    expect(deriveCapabilities('me', ['Read', 'Grep'], ['Read'])).toEqual(['me', 'read']);
  });
});
