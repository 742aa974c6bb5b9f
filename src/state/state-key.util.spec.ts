import { AppException } from '../common/errors/app.exception';
import { ConfigValidationError, loadConfig } from '../config/load-config';
import {
  assertValidKey,
  assertValidPrefix,
  etagFor,
  parseIfMatch,
  strategyFor,
} from './state-key.util';

describe('state keys', () => {
  it.each(['project', 'project/alpha', 'a/b/c', 'x.y-z_1/2', 'A9', 'k'.repeat(256)])(
    'accepts %s',
    (key) => expect(assertValidKey(key)).toBe(key),
  );

  it.each([
    '',
    '/a',
    'a/',
    'a//b',
    '../a',
    'a/./b',
    'a/..',
    '.a',
    'a b',
    'a:b',
    'a?b',
    'é',
    'k'.repeat(257),
  ])('refuses %j with a validation error', (key) => {
    expect(() => assertValidKey(key)).toThrow(AppException);
    try {
      assertValidKey(key);
    } catch (e) {
      expect((e as AppException).status).toBe(400);
    }
  });

  it('accepts prefixes that are keys or a key followed by /', () => {
    expect(assertValidPrefix('')).toBe('');
    expect(assertValidPrefix('project/')).toBe('project/');
    expect(assertValidPrefix('project/al')).toBe('project/al');
    expect(() => assertValidPrefix('/')).toThrow(AppException);
    expect(() => assertValidPrefix('a//')).toThrow(AppException);
  });
});

describe('If-Match', () => {
  it.each([
    ['"3"', 3],
    ['3', 3],
    ['W/"3"', 3],
    [' "12" ', 12],
    ['0', 0],
    ['*', '*'],
  ])('parses %s', (header, expected) => expect(parseIfMatch(header)).toBe(expected));

  it('is undefined when absent and takes the first of repeated headers', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch(['4', '5'])).toBe(4);
  });

  it.each(['v3', '"3', '3"', 'W/3', '-1', '1.5', '"a"', ''])('refuses %j with 400', (header) => {
    expect(() => parseIfMatch(header)).toThrow(AppException);
  });

  it('renders the ETag of a version', () => expect(etagFor(7)).toBe('"7"'));
});

describe('conflict strategy per namespace', () => {
  const strategies = {
    project: 'merge-patch',
    'project/locked': 'reject',
    cfg: 'last-write-wins',
  } as const;

  it('picks the longest matching namespace on segment boundaries, else the default', () => {
    expect(strategyFor('project/alpha', strategies, 'reject')).toBe('merge-patch');
    expect(strategyFor('project', strategies, 'reject')).toBe('merge-patch');
    expect(strategyFor('project/locked/x', strategies, 'last-write-wins')).toBe('reject');
    expect(strategyFor('projects/x', strategies, 'reject')).toBe('reject');
    expect(strategyFor('cfg/a', strategies, 'reject')).toBe('last-write-wins');
  });

  it('is read from STATE_NAMESPACE_STRATEGIES, and a bad entry stops the boot', () => {
    const config = loadConfig({ STATE_NAMESPACE_STRATEGIES: 'project=merge-patch, config=reject' });
    expect(config.state.namespaceStrategies).toEqual({ project: 'merge-patch', config: 'reject' });
    expect(loadConfig({}).state.namespaceStrategies).toEqual({});
    expect(() => loadConfig({ STATE_NAMESPACE_STRATEGIES: 'project=maybe' })).toThrow(
      ConfigValidationError,
    );
    expect(() => loadConfig({ STATE_NAMESPACE_STRATEGIES: 'a b=reject' })).toThrow(
      /STATE_NAMESPACE_STRATEGIES/,
    );
  });
});
