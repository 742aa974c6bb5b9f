import fc from 'fast-check';
import type { AgentDefinition, SkippedAgentFile } from './agent-definition.type';
import { parseAgentFile } from './agent-file.parser';

const agent = (frontMatter: string, body = 'Prompt.'): string =>
  `---\n${frontMatter}\n---\n${body}\n`;

function load(text: string): AgentDefinition {
  const result = parseAgentFile(text, 'x.md', '/abs/x.md');
  if ('reason' in result) throw new Error(`expected an agent, skipped: ${result.reason}`);
  return result;
}

function skip(text: string): string {
  const result = parseAgentFile(text, 'x.md', '/abs/x.md');
  if (!('reason' in result)) throw new Error(`expected a skip, loaded ${result.name}`);
  expect(result.file).toBe('x.md');
  return result.reason;
}

describe('parseAgentFile', () => {
  it('loads a plain Claude Code subagent with defaults for our keys', () => {
    expect(
      parseAgentFile(
        agent(
          'name: reviewer\ndescription: Reviews code.\ntools: Read, Grep\nmodel: sonnet\ncolor: red',
          '\nYou review.\n\n',
        ),
        'reviewer.md',
        '/abs/reviewer.md',
      ),
    ).toEqual({
      name: 'reviewer',
      description: 'Reviews code.',
      tools: ['Read', 'Grep'],
      disallowedTools: [],
      model: 'sonnet',
      color: 'red',
      capabilities: ['read', 'reviewer'],
      executor: 'claude',
      maxConcurrency: 1,
      systemPrompt: 'You review.',
      file: 'reviewer.md',
      path: '/abs/reviewer.md',
      extra: {},
      warnings: [],
    } satisfies AgentDefinition);
  });

  it('reads Claude Code keys permissionMode, maxTurns and disallowedTools', () => {
    const a = load(
      agent('name: a\ndescription: d\npermissionMode: plan\nmaxTurns: 5\ndisallowedTools: [Bash]'),
    );
    expect(a).toMatchObject({ permissionMode: 'plan', maxTurns: 5, disallowedTools: ['Bash'] });
    expect(a.tools).toBeUndefined();
    expect(a.capabilities).toEqual(['a', 'delegate', 'read', 'web', 'write']);
  });

  it('ignores a Claude Code key of the wrong type with a warning instead of skipping', () => {
    const a = load(agent('name: a\ndescription: d\nmaxTurns: lots\nmodel: [x]'));
    expect(a.maxTurns).toBeUndefined();
    expect(a.model).toBeUndefined();
    expect(a.warnings).toEqual([
      'ignored `model`: expected text, got a list',
      'ignored `maxTurns`: expected a positive integer, got string "lots"',
    ]);
  });

  describe('skips what Claude Code skips', () => {
    it.each([
      ['# README\n\nJust docs.', 'no YAML front matter: not an agent definition (documentation?)'],
      [
        '---\ntitle: Docs\n---\ntext',
        'no `name` in front matter: not an agent definition (documentation?)',
      ],
      [
        '---\nname: "  "\ndescription: d\n---\n',
        'no `name` in front matter: not an agent definition (documentation?)',
      ],
      ['---\n---\n', 'no `name` in front matter: not an agent definition (documentation?)'],
      [
        '---\n- a\n- b\n---\n',
        'front matter is not a set of "key: value" lines: not an agent definition (documentation?)',
      ],
      [
        '---\nname: a\n',
        'front matter opened with "---" is never closed: not an agent definition (documentation?)',
      ],
      ['---\nname: -a\ndescription: d\n---\n', '`name` "-a" must not start with "-"'],
      [
        '---\nname: "p:a"\ndescription: d\n---\n',
        '`name` "p:a" must not contain ":" (reserved for plugin namespaces)',
      ],
      ['---\nname: true\ndescription: d\n---\n', '`name` must be text, got boolean true'],
      [
        '---\nname: a\n---\n',
        'missing or empty `description` (Claude Code requires one to know when to use the agent)',
      ],
      [
        '---\nname: a\ndescription:\n---\n',
        'missing or empty `description` (Claude Code requires one to know when to use the agent)',
      ],
      ['---\nname: a\ndescription: [x]\n---\n', '`description` must be text, got a list'],
      [
        '---\nname: a\ndescription: Examples:\n<example>\n---\n',
        'invalid YAML front matter: Nested mappings are not allowed in compact mappings (line 3, column 14)',
      ],
    ])('%j', (text, reason) => {
      expect(skip(text)).toBe(reason);
    });
  });

  describe('tolerates what Claude Code tolerates', () => {
    it('repairs an unquoted ": " in the description and warns', () => {
      const a = load(
        agent('name: a\ndescription: Use this agent when: asked. Examples: none\ntools: Read'),
      );
      expect(a.description).toBe('Use this agent when: asked. Examples: none');
      expect(a.tools).toEqual(['Read']);
      expect(a.warnings).toEqual([
        '`description` is not valid YAML as written (unquoted ": " inside); read it as quoted text',
      ]);
    });

    it('turns literal \\n escapes in the description into newlines', () => {
      expect(load(agent('name: a\ndescription: one\\ntwo\\n\\nthree')).description).toBe(
        'one\ntwo\n\nthree',
      );
      expect(load(agent("name: a\ndescription: 'x: y\\nz'")).description).toBe('x: y\nz');
    });

    it('reads block scalars', () => {
      expect(load(agent('name: a\ndescription: |\n  l1\n  k: v\n')).description).toBe('l1\nk: v');
      expect(load(agent('name: a\ndescription: >\n  l1\n  l2\n')).description).toBe('l1 l2');
    });

    it('keeps non-ASCII text, CRLF and a BOM', () => {
      const a = load(
        '\uFEFF---\r\nname: überprüfer\r\ndescription: Prüft — 検査 ✓\r\n---\r\nHallo\r\nWelt\r\n',
      );
      expect(a).toMatchObject({
        name: 'überprüfer',
        description: 'Prüft — 検査 ✓',
        systemPrompt: 'Hallo\nWelt',
      });
    });

    it('uses the name key, not the file name', () => {
      expect(load(agent('name: real-name\ndescription: d')).name).toBe('real-name');
    });

    it('keeps unknown keys (and Claude Code keys we do not model) in extra', () => {
      const a = load(agent('name: a\ndescription: d\nskills: [pdf]\nhooks: {}\nx-owner: me'));
      expect(a.extra).toEqual({ skills: ['pdf'], hooks: {}, 'x-owner': 'me' });
    });

    it('drops junk tool names and keeps the valid ones', () => {
      const a = load(agent('name: a\ndescription: d\ntools: Read, , Nope, Bash'));
      expect(a.tools).toEqual(['Read', 'Bash']);
      expect(a.capabilities).toEqual(['a', 'exec', 'read']);
      expect(a.warnings).toEqual(['ignored unknown tool "Nope" in `tools`']);
    });

    it('an empty body is an empty system prompt', () => {
      expect(load('---\nname: a\ndescription: d\n---').systemPrompt).toBe('');
    });
  });

  describe('Switchyard keys', () => {
    it('reads every key', () => {
      const a = load(
        agent(
          'name: a\ndescription: d\ncapabilities: [summarize, " web "]\nexecutor: http\nurl: https://h.example/run\nmaxConcurrency: 4\ntimeoutSeconds: 2.5',
        ),
      );
      expect(a).toMatchObject({
        capabilities: ['a', 'summarize', 'web'],
        executor: 'http',
        url: 'https://h.example/run',
        maxConcurrency: 4,
        timeoutSeconds: 2.5,
      });
      expect(a.warnings).toEqual([]);
    });

    it('explicit capabilities replace derived ones but always include the name', () => {
      const a = load(agent('name: a\ndescription: d\ntools: Bash\ncapabilities: [z, a, z]'));
      expect(a.capabilities).toEqual(['a', 'z']);
    });

    it('command and builtin executors', () => {
      expect(
        load(agent('name: a\ndescription: d\nexecutor: command\ncommand: [node, x.js]')),
      ).toMatchObject({
        executor: 'command',
        command: ['node', 'x.js'],
      });
      expect(
        load(agent('name: a\ndescription: d\nexecutor: builtin\nhandler: echo')),
      ).toMatchObject({
        executor: 'builtin',
        handler: 'echo',
      });
    });

    it('warns when an executor setting is given for another executor', () => {
      expect(load(agent('name: a\ndescription: d\ncommand: [x]')).warnings).toEqual([
        '`command` is ignored unless executor is command (executor is claude)',
      ]);
    });

    it('a key with no value counts as not set', () => {
      expect(load(agent('name: a\ndescription: d\nmaxConcurrency:\nexecutor:'))).toMatchObject({
        maxConcurrency: 1,
        executor: 'claude',
      });
    });

    it.each([
      ['capabilities: read', 'invalid `capabilities`: must be a list of strings (got "read")'],
      [
        'capabilities: [read, 3]',
        'invalid `capabilities`: entries must be strings (got ["read",3])',
      ],
      ['capabilities: ["", x]', 'invalid `capabilities`: entries must not be empty (got ["","x"])'],
      [
        'executor: docker',
        'invalid `executor`: must be one of builtin, command, http, claude (got "docker")',
      ],
      ['executor: command', 'missing `command`: required when executor is command'],
      [
        'executor: command\ncommand: node x.js',
        'invalid `command`: must be a list of strings (argv, not run through a shell) (got "node x.js")',
      ],
      ['executor: command\ncommand: []', 'invalid `command`: must not be empty (got [])'],
      ['executor: http', 'missing `url`: required when executor is http'],
      [
        'executor: http\nurl: file:///etc/passwd',
        'invalid `url`: must be an http:// or https:// URL (got "file:///etc/passwd")',
      ],
      ['executor: builtin', 'missing `handler`: required when executor is builtin'],
      [
        'executor: builtin\nhandler: 5',
        'invalid `handler`: must be a builtin handler name or a module path (got 5)',
      ],
      ['maxConcurrency: 0', 'invalid `maxConcurrency`: must be an integer ≥ 1 (got 0)'],
      ['maxConcurrency: 1.5', 'invalid `maxConcurrency`: must be an integer ≥ 1 (got 1.5)'],
      ['maxConcurrency: "2"', 'invalid `maxConcurrency`: must be an integer ≥ 1 (got "2")'],
      ['timeoutSeconds: 0', 'invalid `timeoutSeconds`: must be a positive number (got 0)'],
      ['timeoutSeconds: soon', 'invalid `timeoutSeconds`: must be a positive number (got "soon")'],
    ])('skips %j', (keys, reason) => {
      expect(skip(agent(`name: a\ndescription: d\n${keys}`))).toBe(reason);
    });
  });

  it('repair rule: a one-line unquoted description (not ending in ":") reads back exactly as written, colons and all', () => {
    const word = fc.constantFrom(
      'use',
      'this:',
      'when:',
      'user:',
      'x:y',
      '"quoted"',
      "it's",
      '<example>',
      '</example>',
      'über',
      '日本語',
      'a-b',
      '50%',
      '(note)',
      '[x]',
      '{y}',
      'e.g.,',
      'http://h:1/p',
      'Examples:',
    );
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 12 }), (words) => {
        // A value ending in ":" is invalid YAML that Claude Code's rewrite leaves alone (skipped,
        // see the trailing-colon-description fixture): end with a plain word.
        const description = ['Agent', ...words, 'done'].join(' ');
        expect(load(agent(`name: a\ndescription: ${description}\ntools: Read`))).toMatchObject({
          description,
          tools: ['Read'],
        });
      }),
      { numRuns: 300 },
    );
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `---\n${s}\n---\n`),
          fc.string().map((s) => `---\nname: n\ndescription: ${s}\n---\n`),
        ),
        (text) => {
          const result: AgentDefinition | SkippedAgentFile = parseAgentFile(text, 'f.md', '/f.md');
          if ('reason' in result) expect(result.reason.length).toBeGreaterThan(0);
          else expect(result.capabilities).toContain(result.name);
        },
      ),
      { numRuns: 300 },
    );
  });
});
