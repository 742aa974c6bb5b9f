import { parseFrontMatter } from './front-matter.parser';

describe('parseFrontMatter', () => {
  it('splits YAML and body', () => {
    expect(parseFrontMatter('---\nname: a\n---\nBody\n')).toEqual({
      status: 'ok',
      data: { name: 'a' },
      body: 'Body\n',
      quotedKeys: [],
    });
  });

  it('reports a file without front matter as absent, also when it starts with a blank line', () => {
    expect(parseFrontMatter('# Title\n')).toEqual({ status: 'absent' });
    expect(parseFrontMatter('\n---\nname: a\n---\n')).toEqual({ status: 'absent' });
    expect(parseFrontMatter('')).toEqual({ status: 'absent' });
  });

  it('reports a block with no closing line as unclosed', () => {
    expect(parseFrontMatter('---\nname: a\n')).toEqual({ status: 'unclosed' });
  });

  it('tolerates a BOM, CRLF and CR line endings and trailing spaces on the delimiters', () => {
    for (const text of [
      '\uFEFF---\nname: a\n---\nB',
      '---\r\nname: a\r\n---\r\nB',
      '---\rname: a\r---\rB',
      '---  \nname: a\n--- \t\nB',
    ]) {
      expect(parseFrontMatter(text)).toEqual({
        status: 'ok',
        data: { name: 'a' },
        body: 'B',
        quotedKeys: [],
      });
    }
  });

  it('returns null data for an empty block', () => {
    expect(parseFrontMatter('---\n---\nB')).toEqual({
      status: 'ok',
      data: null,
      body: 'B',
      quotedKeys: [],
    });
  });

  it('repairs an unquoted ": " inside a value and says so', () => {
    expect(parseFrontMatter('---\nname: a\ndescription: Use: this\n---\n')).toEqual({
      status: 'ok',
      data: { name: 'a', description: 'Use: this' },
      body: '',
      quotedKeys: ['description'],
    });
  });

  it('reports unrepairable YAML with the strict error and its line in the file', () => {
    const result = parseFrontMatter('---\nname: a\ndescription: Examples:\n<example>\n---\n');
    expect(result).toEqual({
      status: 'invalid',
      error: 'Nested mappings are not allowed in compact mappings (line 3, column 14)',
    });
  });

  it('quotes a [ value that does not parse as a list (Claude Code reads it as text)', () => {
    expect(parseFrontMatter('---\ntools: [Read, Grep\n---\n')).toEqual({
      status: 'ok',
      data: { tools: '[Read, Grep' },
      body: '',
      quotedKeys: ['tools'],
    });
  });

  it('takes the block up to the first "---" followed by spaces and a newline, as Claude Code does', () => {
    expect(parseFrontMatter('---\nname: a\ndescription: x ---\nrest\n')).toMatchObject({
      status: 'ok',
      data: { name: 'a', description: 'x' },
      body: 'rest\n',
    });
  });

  it('allows duplicate keys: the last one wins', () => {
    const result = parseFrontMatter('---\nname: a\nname: b\n---\n');
    expect(result).toEqual({
      status: 'ok',
      data: { name: 'b' },
      body: '',
      quotedKeys: [],
    });
  });
});
