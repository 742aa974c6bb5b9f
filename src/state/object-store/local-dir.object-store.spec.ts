import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDirObjectStore } from './local-dir.object-store';

describe('LocalDirObjectStore', () => {
  let dir: string;
  let store: LocalDirObjectStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-local-store-'));
    store = new LocalDirObjectStore(join(dir, 'state'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('puts, gets, heads and deletes objects with their metadata', async () => {
    await store.ping();
    await store.put('state/project/alpha.json', '{"a":1}', { version: '3' });
    expect(await store.get('state/project/alpha.json')).toEqual({
      body: '{"a":1}',
      metadata: { version: '3' },
    });
    expect(await store.head('state/project/alpha.json')).toEqual({ version: '3' });
    await store.put('state/project/alpha.json', '{"a":2}', { version: '4' });
    expect((await store.get('state/project/alpha.json'))?.body).toBe('{"a":2}');
    await store.delete('state/project/alpha.json');
    expect(await store.get('state/project/alpha.json')).toBeUndefined();
    expect(await store.head('nope.json')).toBeUndefined();
  });

  it('lists keys by prefix in order and leaves no temp files', async () => {
    for (const k of ['state/b.json', 'state/a/x.json', 'state/a.json', 'workflows/w.json']) {
      await store.put(k, '{}', {});
    }
    expect((await store.list('state/')).keys).toEqual([
      'state/a.json',
      'state/a/x.json',
      'state/b.json',
    ]);
    expect((await store.list('workflows/')).keys).toEqual(['workflows/w.json']);
    expect(readdirSync(join(dir, 'state', 'state')).some((f) => f.endsWith('.tmp'))).toBe(false);
  });

  it('refuses keys that would escape its directory', async () => {
    await expect(store.put('../outside.json', '{}', {})).rejects.toThrow(/escapes/);
  });
});
