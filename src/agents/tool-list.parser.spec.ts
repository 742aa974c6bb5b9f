import { parseToolList, toolBaseName } from './tool-list.parser';

describe('parseToolList', () => {
  it('treats an absent or empty key as all tools', () => {
    expect(parseToolList(undefined, 'tools')).toEqual({ tools: undefined, warnings: [] });
    expect(parseToolList(null, 'tools')).toEqual({ tools: undefined, warnings: [] });
  });

  it('reads a comma-separated string and a YAML list', () => {
    expect(parseToolList('Read, Grep,Glob', 'tools').tools).toEqual(['Read', 'Grep', 'Glob']);
    expect(parseToolList(['Read', ' Bash '], 'tools').tools).toEqual(['Read', 'Bash']);
  });

  it('an empty string or list means no tools', () => {
    expect(parseToolList('', 'tools')).toEqual({ tools: [], warnings: [] });
    expect(parseToolList([], 'tools')).toEqual({ tools: [], warnings: [] });
  });

  it('"*" means all tools', () => {
    expect(parseToolList('*', 'tools').tools).toBeUndefined();
    expect(parseToolList(['Read', '*'], 'tools').tools).toBeUndefined();
  });

  it('keeps valid entries, drops empty ones silently and junk with a warning, deduplicates', () => {
    expect(
      parseToolList('Read, , Bogus, read, Read, Bash(git log:*), mcp__gh__x, mcp__gh', 'tools'),
    ).toEqual({
      tools: ['Read', 'Bash(git log:*)', 'mcp__gh__x', 'mcp__gh'],
      warnings: [
        'ignored unknown tool "Bogus" in `tools`',
        'ignored unknown tool "read" in `tools`',
      ],
    });
    expect(parseToolList(['Read', 7, null, { a: 1 }], 'disallowedTools')).toEqual({
      tools: ['Read'],
      warnings: [
        'ignored number 7 in `disallowedTools`: not a tool name',
        'ignored a mapping in `disallowedTools`: not a tool name',
      ],
    });
  });

  it('ignores a value of the wrong type with a warning (as if absent)', () => {
    expect(parseToolList(42, 'tools')).toEqual({
      tools: undefined,
      warnings: ['ignored `tools`: expected a comma-separated string or a list, got number 42'],
    });
  });
});

describe('toolBaseName', () => {
  it('strips a permission rule', () => {
    expect(toolBaseName('Bash(npm test:*)')).toBe('Bash');
    expect(toolBaseName('Read')).toBe('Read');
  });
});
