import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { DISCOVERY_SCRIPTS } from '../discovery/agent-registry.repository';
import { STATE_SCRIPTS } from '../state/state-redis-commands';
import { LuaScriptMissingError, LuaScripts } from './lua-scripts.loader';

describe('LuaScripts', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lua-loader-'));
    writeFileSync(join(dir, 'lib-echo.lua'), 'local function twice(x) return x .. x end\n');
    writeFileSync(
      join(dir, 'echo-twice-1.lua'),
      '--[[ KEYS[1] unused ]]\n--@include "lib-echo.lua"\nreturn twice(ARGV[1])\n',
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads declared scripts with their includes expanded, named after the file', () => {
    const scripts = LuaScripts.load(dir, ['echo-twice-1']);
    expect(scripts.commands).toEqual(['echoTwice']);
    const [s] = scripts.scripts;
    expect(s?.numberOfKeys).toBe(1);
    expect(s?.lua).toContain('local function twice');
    expect(s?.lua).not.toContain('--@include');
  });

  it('fails with a message naming a declared script that is missing', () => {
    const load = () => LuaScripts.load(dir, ['echo-twice-1', 'save-thing-2']);
    expect(load).toThrow(LuaScriptMissingError);
    expect(load).toThrow(/Lua script 'save-thing-2\.lua' is missing from .*lua-loader-/);
  });

  it('fails with a message naming a missing include', () => {
    writeFileSync(join(dir, 'broken-1.lua'), '--@include "lib-gone.lua"\nreturn 1\n');
    expect(() => LuaScripts.load(dir, ['broken-1'])).toThrow(/'lib-gone\.lua' is missing/);
  });

  it('refuses an include cycle and a badly named script', () => {
    writeFileSync(join(dir, 'loop-0.lua'), '--@include "loop-0.lua"\n');
    expect(() => LuaScripts.load(dir, ['loop-0'])).toThrow(/include cycle/);
    writeFileSync(join(dir, 'noname.lua'), 'return 1\n');
    expect(() => LuaScripts.load(dir, ['noname'])).toThrow(/<name>-<numberOfKeys>\.lua/);
  });

  it('loadAll takes every <name>-<n>.lua of the folder, and fails on a missing folder', () => {
    expect(LuaScripts.loadAll(dir).commands).toEqual(['echoTwice']);
    expect(() => LuaScripts.loadAll(join(dir, 'nope'))).toThrow(LuaScriptMissingError);
  });

  it('finds every script the discovery and state modules declare', () => {
    const root = join(__dirname, '..');
    expect(
      LuaScripts.load(join(root, 'discovery', 'commands'), DISCOVERY_SCRIPTS).commands,
    ).toHaveLength(DISCOVERY_SCRIPTS.length);
    expect(LuaScripts.load(join(root, 'state', 'commands'), STATE_SCRIPTS).commands).toHaveLength(
      STATE_SCRIPTS.length,
    );
  });

  it('defines the commands on a real Redis connection', async () => {
    const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const typed = LuaScripts.load(dir, ['echo-twice-1']).defineOn<{
        echoTwice(key: string, arg: string): Promise<string>;
      }>(client);
      await expect(typed.echoTwice('lua-loader-spec:unused', 'ab')).resolves.toBe('abab');
    } finally {
      client.disconnect();
    }
  });
});
