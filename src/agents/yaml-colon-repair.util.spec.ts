import { parse } from 'yaml';
import { quoteColonValues } from './yaml-colon-repair.util';

const yamlParse = (text: string): unknown => parse(text, { uniqueKeys: false });
const rewrite = (text: string) => quoteColonValues(text, yamlParse);

describe('quoteColonValues (Claude Code 2.1.33x line rewrite)', () => {
  it('quotes a value containing ": " so YAML reads it as one string', () => {
    const yaml = 'name: a\ndescription: Use when: asked. Note: be kind.';
    expect(() => parse(yaml)).toThrow(/Nested mappings/);
    expect(rewrite(yaml)).toEqual({
      yaml: 'name: a\ndescription: "Use when: asked. Note: be kind."',
      quotedKeys: ['description'],
    });
    expect(yamlParse(rewrite(yaml).yaml)).toEqual({
      name: 'a',
      description: 'Use when: asked. Note: be kind.',
    });
  });

  it.each(['{', '}', '[', ']', '*', '&', '#', '!', '|', '>', '%', '@', '`'])(
    'quotes a value containing %s',
    (ch) => {
      expect(rewrite(`k: a${ch}b`)).toEqual({ yaml: `k: "a${ch}b"`, quotedKeys: ['k'] });
    },
  );

  it('escapes backslashes and double quotes, keeping a literal \\n as two characters', () => {
    const out = rewrite('description: say: "hi" \\n C:\\path');
    expect(out.yaml).toBe('description: "say: \\"hi\\" \\\\n C:\\\\path"');
    expect(yamlParse(out.yaml)).toEqual({ description: 'say: "hi" \\n C:\\path' });
  });

  it('keeps values already quoted with the same quote at both ends', () => {
    for (const line of ['a: "x: y"', "b: 'x: y'"]) {
      expect(rewrite(line)).toEqual({ yaml: line, quotedKeys: [] });
    }
    // Different quotes at the ends: not quoted, so it is rewritten.
    expect(rewrite(`c: "x: y'`).quotedKeys).toEqual(['c']);
  });

  it('keeps a [..] that parses as a list, quotes one that does not', () => {
    expect(rewrite('tools: [Read, Grep]')).toEqual({ yaml: 'tools: [Read, Grep]', quotedKeys: [] });
    expect(rewrite('tools: [Read, Grep')).toEqual({
      yaml: 'tools: "[Read, Grep"',
      quotedKeys: ['tools'],
    });
  });

  it('keeps lines that do not match ^key: value (indented, no space after the colon, dotted keys, no special character)', () => {
    const yaml = [
      'hooks:',
      '  pre: run: x',
      'url:http://a: b',
      'a.b: x: y',
      'plain: just words',
      'Examples:',
      'k: value ending with a colon:',
    ].join('\n');
    expect(rewrite(yaml)).toEqual({ yaml, quotedKeys: [] });
  });

  it('turns leading tabs into two spaces each', () => {
    expect(rewrite('hooks:\n\tpre: x\n\t\tdeep: y')).toEqual({
      yaml: 'hooks:\n  pre: x\n    deep: y',
      quotedKeys: [],
    });
  });
});
