import { parse } from 'yaml';
import { quoteColonValues } from './yaml-colon-repair.util';

describe('quoteColonValues', () => {
  it('quotes a plain value containing ": " so strict YAML reads it as one string', () => {
    const yaml = 'name: a\ndescription: Use when: asked. Note: be kind.';
    expect(() => parse(yaml)).toThrow(/Nested mappings/);
    const repaired = quoteColonValues(yaml);
    expect(repaired).toEqual({
      yaml: 'name: a\ndescription: "Use when: asked. Note: be kind."',
      quotedKeys: ['description'],
    });
    expect(parse(repaired.yaml)).toEqual({
      name: 'a',
      description: 'Use when: asked. Note: be kind.',
    });
  });

  it('quotes a value ending with ":"', () => {
    expect(parse(quoteColonValues('description: Examples:').yaml)).toEqual({
      description: 'Examples:',
    });
  });

  it('escapes quotes and backslashes inside the value, keeping literal \\n as written', () => {
    const yaml = 'description: say: "hi" \\n C:\\path';
    expect(parse(quoteColonValues(yaml).yaml)).toEqual({ description: 'say: "hi" \\n C:\\path' });
  });

  it('folds indented continuation lines like a plain scalar (blank line = newline)', () => {
    const yaml = 'description: First line\n  Important: second\n\n  third\ntools: Read';
    expect(parse(quoteColonValues(yaml).yaml)).toEqual({
      description: 'First line Important: second\nthird',
      tools: 'Read',
    });
  });

  it('leaves quoted, block, flow and colon-free values alone', () => {
    const yaml = [
      'a: "x: y"',
      "b: 'x: y'",
      'c: |',
      '  x: y',
      'd: [x, y]',
      'e: plain value',
      'f: http://example.com',
    ].join('\n');
    expect(quoteColonValues(yaml)).toEqual({ yaml, quotedKeys: [] });
  });

  it('does not touch indented lines that belong to a nested mapping', () => {
    const yaml = 'hooks:\n  pre: run: x';
    expect(quoteColonValues(yaml)).toEqual({ yaml, quotedKeys: [] });
  });
});
