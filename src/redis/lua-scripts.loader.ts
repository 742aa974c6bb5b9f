import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';

/** A declared script is missing (or unreadable) from its folder: the app must not boot. */
export class LuaScriptMissingError extends Error {
  constructor(
    readonly file: string,
    readonly dir: string,
    why: string,
  ) {
    super(
      `Lua script '${file}' is missing from ${dir} (${why}); run \`npm run build\` (scripts/copy-assets.js copies the .lua files into dist/) or restore the file`,
    );
    this.name = 'LuaScriptMissingError';
  }
}

/** One script, ready to define: command name, number of KEYS, Lua source with includes expanded. */
export interface LuaScript {
  /** `save-breaker-2.lua` → `saveBreaker`. */
  readonly command: string;
  readonly numberOfKeys: number;
  readonly lua: string;
  readonly file: string;
}

const SCRIPT_FILE = /^(.+)-(\d+)\.lua$/;
const INCLUDE = /^--@include "([^"]+)"\s*$/gm;

/**
 * The one Lua loader of the app, BullMQ style: each script is a file `<name>-<numberOfKeys>.lua`
 * whose header lists its KEYS and ARGV; shared fragments are included with a line
 * `--@include "<file>.lua"`. A module declares the scripts it uses and loads them when it is
 * constructed, so a missing file stops the boot with a message naming it (instead of failing on
 * the first call, at 3 a.m.). The `.lua` files sit beside the code (`commands/`); the build
 * copies them into `dist/` (scripts/copy-assets.js).
 */
export class LuaScripts {
  private readonly defined = new WeakSet<Redis>();

  private constructor(
    readonly dir: string,
    readonly scripts: readonly LuaScript[],
  ) {}

  /**
   * Reads the declared scripts (file names without `.lua`, e.g. `save-breaker-2`) from `dir`.
   * Throws {@link LuaScriptMissingError} naming the first missing script or include.
   */
  static load(dir: string, declared: readonly string[]): LuaScripts {
    return new LuaScripts(
      dir,
      declared.map((name) => readScript(dir, `${name}.lua`)),
    );
  }

  /** Every `<name>-<numberOfKeys>.lua` of `dir` (for callers that do not declare a list). */
  static loadAll(dir: string): LuaScripts {
    if (!existsSync(dir)) throw new LuaScriptMissingError('*.lua', dir, 'no such folder');
    const files = readdirSync(dir)
      .filter((f) => SCRIPT_FILE.test(f))
      .sort();
    return new LuaScripts(
      dir,
      files.map((f) => readScript(dir, f)),
    );
  }

  /** Defines every script as a command on `client` (once per client) and returns it typed. */
  defineOn<T>(client: Redis): Redis & T {
    if (!this.defined.has(client)) {
      for (const s of this.scripts) {
        client.defineCommand(s.command, { numberOfKeys: s.numberOfKeys, lua: s.lua });
      }
      this.defined.add(client);
    }
    return client as Redis & T;
  }

  get commands(): string[] {
    return this.scripts.map((s) => s.command);
  }
}

function readScript(dir: string, file: string): LuaScript {
  const match = SCRIPT_FILE.exec(file);
  if (!match) {
    throw new Error(`Lua script '${file}' must be named <name>-<numberOfKeys>.lua`);
  }
  const [, name, keys] = match as unknown as [string, string, string];
  const lua = expandIncludes(dir, read(dir, file), new Set([file]));
  const command = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return { command, numberOfKeys: Number(keys), lua, file };
}

function read(dir: string, file: string): string {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (e) {
    throw new LuaScriptMissingError(file, dir, (e as NodeJS.ErrnoException).code ?? 'unreadable');
  }
}

function expandIncludes(dir: string, lua: string, seen: Set<string>): string {
  return lua.replace(INCLUDE, (_, file: string) => {
    if (seen.has(file)) throw new Error(`Lua include cycle at ${file} in ${dir}`);
    return expandIncludes(dir, read(dir, file), new Set([...seen, file]));
  });
}
