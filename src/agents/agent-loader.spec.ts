import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AgentDefinition, AgentLoadResult } from './agent-definition.type';
import { AgentDirectoryError } from './agent-directory.error';
import { loadAgentDirectory, parseAgentFile } from './agent-loader';

const FIXTURES = resolve(__dirname, '../../test/fixtures/agents');
const NOT_AGENT = 'not an agent definition (documentation?)';

describe('loadAgentDirectory (test/fixtures/agents)', () => {
  let result: AgentLoadResult;
  const agent = (file: string): AgentDefinition => {
    const found = result.loaded.find((a) => a.file === file);
    if (!found) throw new Error(`${file} was not loaded`);
    return found;
  };

  beforeAll(async () => {
    result = await loadAgentDirectory(FIXTURES);
  });

  it('loads every valid file, nested ones included, in sorted path order', () => {
    expect(result.loaded.map((a) => a.file)).toEqual([
      'basic.md',
      'block-scalar-folded.md',
      'block-scalar-literal.md',
      'bom.md',
      'command-executor.md',
      'crlf-line-endings.md',
      'disallowed-tools.md',
      'duplicate-keys.md',
      'duplicates/first.md',
      'empty-tools.md',
      'examples-in-description.md',
      'junk-tool-list-entries.md',
      'junk-tool-names.md',
      'literal-newline-escapes.md',
      'mcp-tools.md',
      'name-differs-from-file.md',
      'nested/team/deep-agent.md',
      'no-tools-key.md',
      'non-ascii.md',
      'repair-keeps-flow-list.md',
      'repair-keeps-quoted.md',
      'repair-special-chars.md',
      'repair-tabs.md',
      'star-tools.md',
      'switchyard-keys.md',
      'tools-as-list.md',
      'unknown-keys.md',
      'unquoted-colon-description.md',
    ]);
  });

  it('skips every other *.md file with its reason, and never looks at other extensions', () => {
    expect(result.skipped).toEqual([
      { file: 'README.md', reason: `no YAML front matter: ${NOT_AGENT}` },
      {
        file: 'builtin-without-handler.md',
        reason: 'missing `handler`: required when executor is builtin',
      },
      {
        file: 'command-without-argv.md',
        reason: 'missing `command`: required when executor is command',
      },
      {
        file: 'duplicates/second.md',
        reason: 'duplicate agent name "duplicated-agent": already defined in duplicates/first.md',
      },
      {
        file: 'empty-description.md',
        reason:
          'missing or empty `description` (Claude Code requires one to know when to use the agent)',
      },
      { file: 'empty-front-matter.md', reason: `no \`name\` in front matter: ${NOT_AGENT}` },
      { file: 'http-without-url.md', reason: 'missing `url`: required when executor is http' },
      {
        file: 'invalid-capabilities.md',
        reason: 'invalid `capabilities`: must be a list of strings (got "read, write")',
      },
      {
        file: 'invalid-executor.md',
        reason: 'invalid `executor`: must be one of builtin, command, http, claude (got "docker")',
      },
      {
        file: 'invalid-max-concurrency.md',
        reason: 'invalid `maxConcurrency`: must be an integer ≥ 1 (got 0)',
      },
      {
        file: 'invalid-timeout.md',
        reason: 'invalid `timeoutSeconds`: must be a positive number (got -5)',
      },
      {
        file: 'invalid-url.md',
        reason: 'invalid `url`: must be an http:// or https:// URL (got "ftp://example.com/agent")',
      },
      {
        file: 'invalid-yaml.md',
        reason:
          'invalid YAML front matter: Nested mappings are not allowed in compact mappings (line 3, column 14)',
      },
      { file: 'leading-blank-line.md', reason: `no YAML front matter: ${NOT_AGENT}` },
      {
        file: 'missing-description.md',
        reason:
          'missing or empty `description` (Claude Code requires one to know when to use the agent)',
      },
      {
        // Claude Code's rewrite leaves indented continuation lines alone: still invalid.
        file: 'multiline-plain-with-colon.md',
        reason:
          'invalid YAML front matter: Nested mappings are not allowed in compact mappings (line 3, column 14)',
      },
      { file: 'name-not-string.md', reason: '`name` must be text, got number 123' },
      { file: 'name-starts-with-dash.md', reason: '`name` "-dash" must not start with "-"' },
      {
        file: 'name-with-colon.md',
        reason: '`name` "plugin:agent" must not contain ":" (reserved for plugin namespaces)',
      },
      { file: 'no-name.md', reason: `no \`name\` in front matter: ${NOT_AGENT}` },
      {
        // A value ending in ":" has no special character: the rewrite keeps it, YAML still fails.
        file: 'trailing-colon-description.md',
        reason:
          'invalid YAML front matter: Nested mappings are not allowed in compact mappings (line 3, column 14)',
      },
      {
        file: 'unclosed-front-matter.md',
        reason: `front matter opened with "---" is never closed: ${NOT_AGENT}`,
      },
    ]);
  });

  it('records the relative file and the absolute path', () => {
    const deep = agent('nested/team/deep-agent.md');
    expect(deep.path).toBe(join(FIXTURES, 'nested', 'team', 'deep-agent.md'));
    expect(deep).toMatchObject({ name: 'deep-agent', capabilities: ['deep-agent', 'delegate'] });
  });

  it('keeps the first of two files with the same name', () => {
    expect(agent('duplicates/first.md')).toMatchObject({
      name: 'duplicated-agent',
      systemPrompt: 'First.',
    });
  });

  it('repairs unquoted ": " in one-line values the way Claude Code does', () => {
    expect(agent('unquoted-colon-description.md')).toMatchObject({
      description: 'Use this agent when: the user asks for a review. Note: be kind.',
      warnings: [
        '`description` is not valid YAML as written (unquoted ": " inside); read it as quoted text',
      ],
    });
  });

  it("applies each branch of Claude Code's line rewrite", () => {
    // YAML indicators at the start (@, backtick) fail strict YAML; the whole value is quoted.
    expect(agent('repair-special-chars.md').description).toBe(
      '@team reviewer for `src/`, 100% sure, #1 & more!',
    );
    // An already quoted value is left alone while another line is quoted.
    expect(agent('repair-keeps-quoted.md')).toMatchObject({
      description: 'Already: quoted, kept as is',
      extra: { 'x-note': 'see: the docs' },
    });
    // A [..] that parses as a list stays a list.
    expect(agent('repair-keeps-flow-list.md')).toMatchObject({
      description: 'Use when: lists are needed',
      tools: ['Read', 'Grep'],
    });
    // Leading tabs become two spaces each, so the nested mapping parses.
    expect(agent('repair-tabs.md')).toMatchObject({
      description: 'Use when: tabs were typed',
      extra: { hooks: { PreToolUse: [] } },
    });
    // Duplicate keys: the last one wins.
    expect(agent('duplicate-keys.md').description).toBe('Last one wins.');
  });

  it('reads the typical generated description: Examples with literal \\n and dialogue colons', () => {
    const a = agent('examples-in-description.md');
    expect(a.description).toBe(
      [
        'Use this agent after writing code. Examples:',
        '',
        '<example>',
        'Context: The user just wrote a function.',
        'user: "Please review it"',
        `assistant: "I'll use the examples-in-description agent."`,
        '</example>',
      ].join('\n'),
    );
    expect(a).toMatchObject({
      model: 'opus',
      capabilities: ['examples-in-description', 'exec', 'read'],
    });
  });

  it('reads literal \\n escapes, block scalars, non-ASCII, CRLF and BOM files', () => {
    expect(agent('literal-newline-escapes.md').description).toBe(
      'First line.\nSecond line.\n\nAfter a blank line.',
    );
    expect(agent('block-scalar-literal.md').description).toBe(
      'Keeps line breaks.\nContext: colons are fine in block scalars.',
    );
    expect(agent('block-scalar-folded.md').description).toBe('Folds these lines into one.');
    expect(agent('non-ascii.md')).toMatchObject({
      name: 'traducteur',
      description: 'Traduit la documentation en français — 日本語 aussi ✨',
    });
    expect(agent('crlf-line-endings.md')).toMatchObject({
      name: 'crlf-line-endings',
      description: 'Written on Windows.',
      tools: ['Read', 'Bash'],
      systemPrompt: 'Line one.\nLine two.',
    });
    expect(agent('bom.md').name).toBe('bom');
  });

  it('reads tools as a comma string or a list, and derives capabilities', () => {
    expect(agent('basic.md')).toMatchObject({
      tools: ['Read', 'Grep', 'Glob'],
      capabilities: ['basic', 'read'],
    });
    expect(agent('tools-as-list.md')).toMatchObject({
      tools: ['Read', 'Edit', 'Bash'],
      permissionMode: 'acceptEdits',
      maxTurns: 12,
      capabilities: ['exec', 'read', 'tools-as-list', 'write'],
    });
    const all = agent('no-tools-key.md');
    expect(all.tools).toBeUndefined();
    expect(all.capabilities).toEqual(['delegate', 'exec', 'no-tools-key', 'read', 'web', 'write']);
    expect(agent('star-tools.md').tools).toBeUndefined();
    expect(agent('empty-tools.md')).toMatchObject({ tools: [], capabilities: ['empty-tools'] });
    expect(agent('disallowed-tools.md').capabilities).toEqual([
      'delegate',
      'disallowed-tools',
      'read',
      'write',
    ]);
    expect(agent('mcp-tools.md').capabilities).toEqual([
      'mcp-tools',
      'mcp:claude_ai_Gmail',
      'mcp:github',
      'mcp:linear',
    ]);
  });

  it('drops junk tool names with warnings, keeping the valid ones', () => {
    expect(agent('junk-tool-names.md')).toMatchObject({
      tools: ['Read', 'Grep', 'mcp__github__create_issue', 'Bash(git status:*)'],
      capabilities: ['exec', 'junk-tool-names', 'mcp:github', 'read'],
      warnings: [
        'ignored unknown tool "Bogus" in `tools`',
        'ignored unknown tool "read" in `tools`',
      ],
    });
    expect(agent('junk-tool-list-entries.md')).toMatchObject({
      tools: ['WebFetch', 'Task'],
      warnings: [
        'ignored number 42 in `tools`: not a tool name',
        'ignored a mapping in `tools`: not a tool name',
      ],
    });
  });

  it('uses the name key over the file name and keeps unknown keys', () => {
    expect(agent('name-differs-from-file.md').name).toBe('actual-agent-name');
    expect(agent('unknown-keys.md').extra).toEqual({
      skills: ['pdf'],
      'x-team': 'platform',
      priority: 3,
    });
    // Unknown keys warn; Claude Code's own keys we do not model (skills) do not.
    expect(agent('unknown-keys.md').warnings).toEqual([
      'unknown key `x-team` (kept, not used)',
      'unknown key `priority` (kept, not used)',
    ]);
  });

  it('reads Switchyard keys', () => {
    expect(agent('switchyard-keys.md')).toMatchObject({
      capabilities: ['summarize', 'switchyard-keys', 'web'],
      executor: 'http',
      url: 'https://agents.example.com/summarize',
      maxConcurrency: 3,
      timeoutSeconds: 45.5,
    });
    expect(agent('command-executor.md')).toMatchObject({
      executor: 'command',
      command: ['node', 'scripts/run.js', '--json'],
      systemPrompt: '',
    });
  });

  it('returns exactly what parseAgentFile makes of each loaded file', async () => {
    for (const a of result.loaded) {
      expect(parseAgentFile(await readFile(a.path, 'utf8'), a.file, a.path)).toEqual(a);
    }
  });
});

describe('loadAgentDirectory (temporary directories)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-agents-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = (file: string, name: string) =>
    writeFile(join(dir, file), `---\nname: ${name}\ndescription: d\n---\n`);

  it('returns nothing for an empty directory', async () => {
    expect(await loadAgentDirectory(dir)).toEqual({ loaded: [], skipped: [] });
  });

  it('throws AgentDirectoryError for a missing directory or a file', async () => {
    await expect(loadAgentDirectory(join(dir, 'nope'))).rejects.toThrow(
      new AgentDirectoryError(
        join(dir, 'nope'),
        `agent directory ${join(dir, 'nope')} does not exist`,
      ),
    );
    await write('a.md', 'a');
    await expect(loadAgentDirectory(join(dir, 'a.md'))).rejects.toThrow(/is not a directory/);
  });

  it('sorts by relative path regardless of creation order, so the duplicate winner is stable', async () => {
    await mkdir(join(dir, 'b'));
    await write('b/z.md', 'same');
    await write('a.md', 'same');
    const result = await loadAgentDirectory(dir);
    expect(result.loaded.map((a) => a.file)).toEqual(['a.md']);
    expect(result.skipped).toEqual([
      { file: 'b/z.md', reason: 'duplicate agent name "same": already defined in a.md' },
    ]);
  });

  it('follows symlinks without looping and ignores dangling ones', async () => {
    await mkdir(join(dir, 'sub'));
    await write('sub/a.md', 'a');
    await symlink(dir, join(dir, 'sub', 'loop'));
    await symlink(join(dir, 'missing.md'), join(dir, 'dangling.md'));
    const result = await loadAgentDirectory(dir);
    expect(result.loaded.map((a) => a.name)).toEqual(['a']);
    expect(result.skipped).toEqual([]);
  });
});
