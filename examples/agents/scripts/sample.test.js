'use strict';
// A tiny test file for trying the test-runner agent:
//   echo '{"payload":{"files":["examples/agents/scripts/sample.test.js"]}}' | node examples/agents/scripts/test-runner.js
const test = require('node:test');
const assert = require('node:assert');

test('adds numbers', () => {
  assert.strictEqual(1 + 2, 3);
});

test('joins strings', () => {
  assert.strictEqual(['a', 'b'].join('-'), 'a-b');
});
