import { jsonDepthExceeds } from './safe-json.util';

describe('jsonDepthExceeds', () => {
  const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(jsonDepthExceeds(nested(64), 64)).toBe(false);
    expect(jsonDepthExceeds(nested(65), 64)).toBe(true);
    expect(jsonDepthExceeds('{"a":{"b":[1]}}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":{"b":[1]}}', 2)).toBe(true);
    expect(jsonDepthExceeds(`{"s":"${'['.repeat(100)}\\"["}`, 1)).toBe(false);
  });
  it('handles a million levels without recursion', () => {
    expect(jsonDepthExceeds(nested(1_000_000), 64)).toBe(true);
  });
});
