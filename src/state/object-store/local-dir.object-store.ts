import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { ObjectPage, ObjectStore, StoredObject } from './object-store';

interface Envelope {
  metadata: Record<string, string>;
  body: string;
}

/**
 * The embedded default store: one file per object under a directory, written atomically (temp
 * file + rename). The metadata travels in the same file, so an object is never half-written.
 */
export class LocalDirObjectStore implements ObjectStore {
  readonly kind = 'local';
  readonly location: string;
  private readonly root: string;

  constructor(dir: string) {
    this.root = resolve(dir);
    this.location = `file://${this.root}`;
  }

  private path(key: string): string {
    const full = resolve(this.root, key);
    if (!full.startsWith(this.root + sep)) throw new Error(`object key escapes the store: ${key}`);
    return full;
  }

  async put(key: string, body: string, metadata: Record<string, string>): Promise<void> {
    const file = this.path(key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const envelope: Envelope = { metadata, body };
    await writeFile(tmp, JSON.stringify(envelope));
    await rename(tmp, file);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const envelope = JSON.parse(await readFile(this.path(key), 'utf8')) as Envelope;
      return { body: envelope.body, metadata: envelope.metadata };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async head(key: string): Promise<Record<string, string> | undefined> {
    return (await this.get(key))?.metadata;
  }

  async list(prefix: string, next?: string): Promise<ObjectPage> {
    const keys: string[] = [];
    await this.walk(this.root, keys);
    const matching = keys
      .filter((k) => k.startsWith(prefix) && (next === undefined || k > next))
      .sort();
    const page = matching.slice(0, 1000);
    return { keys: page, next: matching.length > page.length ? page[page.length - 1] : undefined };
  }

  private async walk(dir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await this.walk(full, out);
      else if (!entry.name.endsWith('.tmp'))
        out.push(relative(this.root, full).split(sep).join('/'));
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await stat(this.root);
  }
}
