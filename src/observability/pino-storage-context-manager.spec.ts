import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { Store, storage } from 'nestjs-pino/storage';
import pino from 'pino';
import { PinoStorageContextManager } from './pino-storage-context-manager';

describe('PinoStorageContextManager', () => {
  const manager = new PinoStorageContextManager().enable();
  const key = createContextKey('test');
  const ctx = (v: string) => ROOT_CONTEXT.setValue(key, v);

  it('is the root context outside any with()', () => {
    expect(manager.active()).toBe(ROOT_CONTEXT);
  });

  it('makes a context active across awaits and timers, nests, and restores it', async () => {
    const seen: unknown[] = [];
    await manager.with(ctx('outer'), async () => {
      await new Promise((r) => setTimeout(r, 1));
      seen.push(manager.active().getValue(key));
      await manager.with(ctx('inner'), async () => {
        await Promise.resolve();
        seen.push(manager.active().getValue(key));
      });
      seen.push(manager.active().getValue(key));
    });
    expect(seen).toEqual(['outer', 'inner', 'outer']);
    expect(manager.active()).toBe(ROOT_CONTEXT);
  });

  it("keeps nestjs-pino's request logger in the store while a context is active", () => {
    const logger = pino({ enabled: false });
    storage.run(new Store(logger), () => {
      expect(manager.active()).toBe(ROOT_CONTEXT);
      manager.with(ctx('span'), () => {
        expect(storage.getStore()?.logger).toBe(logger);
        expect(manager.active().getValue(key)).toBe('span');
      });
      expect(manager.active()).toBe(ROOT_CONTEXT);
    });
  });

  it('attach() sets the context until the token is disposed', () => {
    storage.run(new Store(pino({ enabled: false })), () => {
      const token = manager.attach(ctx('attached'));
      expect(manager.active().getValue(key)).toBe('attached');
      token.dispose();
      expect(manager.active()).toBe(ROOT_CONTEXT);
    });
  });
});
