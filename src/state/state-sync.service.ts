import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { isDependencyUnavailable } from '../common/errors/dependency-errors.util';
import { ConfigService } from '../config/config.service';
import { RedisService } from '../redis/redis.service';
import { OBJECT_STORE, type ObjectStore } from './object-store/object-store';
import {
  DOCUMENTS_PREFIX,
  documentKeyOf,
  documentMetadata,
  documentObjectKey,
  parseDocumentObject,
} from './state-object-keys.util';
import type { StateDocument } from './state-document.type';
import { StateRepository } from './state.repository';

export interface SyncReport {
  /** Documents loaded into Redis because the store held a newer version. */
  loaded: number;
  /** Documents uploaded because Redis held a newer version (or the store had none). */
  uploaded: number;
  unchanged: number;
  failed: number;
}

export interface StoreStatus {
  healthy: boolean;
  lastError?: string;
  lastErrorAt?: string;
}

const PARALLEL = 8;

async function forEachLimited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

/**
 * Keeps the durable store in step with Redis: writes each saved version through, remembers what
 * could not be uploaded (the pending set in Redis, shared by every instance) and uploads it from
 * a background job once the store answers again, and reconciles both ways (`syncFromCloud`) at
 * boot and on demand. Redis stays the source of truth for writes; the store is what survives the
 * loss of Redis.
 */
@Injectable()
export class StateSyncService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StateSyncService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private status: StoreStatus = { healthy: true };
  private readonly archiveKey: string;
  /** Set after a complete sync; its absence means Redis lost the state (or never had it). */
  private readonly syncedKey: string;

  constructor(
    private readonly repo: StateRepository,
    private readonly redis: RedisService,
    private readonly config: ConfigService,
    @Inject(OBJECT_STORE) readonly store: ObjectStore,
  ) {
    this.archiveKey = redis.key('state', 'archive-pending');
    this.syncedKey = redis.key('state', 'synced');
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.state.syncOnStartup) {
      try {
        const report = await this.syncFromCloud();
        this.logger.log({ ...report, store: this.store.location }, 'state synced with the store');
      } catch (e) {
        this.logger.warn(
          `state sync at boot failed (${(e as Error).message}); retrying in background`,
        );
      }
    }
    this.timer = setInterval(() => void this.runBackground(), this.config.state.syncIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.store.close?.();
  }

  get storeStatus(): StoreStatus {
    return this.status;
  }

  /**
   * Uploads the current version of `key` (whatever it is by now) and marks it stored. Returns
   * false when the store failed: the key stays pending for the background job.
   */
  async flush(key: string): Promise<boolean> {
    let doc;
    try {
      doc = await this.repo.read(key);
      if (!doc) {
        await this.repo.markUploaded(key, -1);
        return true;
      }
    } catch {
      return false; // Redis trouble: the key stays pending; the API reports Redis itself.
    }
    return this.upload(doc);
  }

  /**
   * Uploads one version and marks it stored. If the document moved on meanwhile (this upload may
   * land after a newer one), the key stays pending and the background job uploads the current
   * version: the store converges to the latest version whatever order uploads finish in.
   */
  private async upload(doc: StateDocument, awaitBookkeeping = true): Promise<boolean> {
    try {
      await this.store.put(documentObjectKey(doc.key), JSON.stringify(doc), documentMetadata(doc));
    } catch (e) {
      this.failed(e);
      return false;
    }
    this.healthy();
    const marked = this.repo.markUploaded(doc.key, doc.version).catch(() => false);
    // The version is durable once the store has it; clearing the pending mark is bookkeeping
    // (if it fails the key is simply uploaded once more), so a save need not wait for it.
    if (awaitBookkeeping) await marked;
    return true;
  }

  /** Write-through of a version just written: skipped (left pending) while the store is down. */
  async writeThrough(doc: StateDocument): Promise<boolean> {
    if (!this.status.healthy) return false;
    return this.upload(doc, false);
  }

  /** Uploads pending documents and archives; returns how many documents are still pending. */
  async flushPending(): Promise<number> {
    for (;;) {
      const keys = await this.repo.pending(100);
      if (keys.length === 0) break;
      let ok = true;
      await forEachLimited(keys, async (key) => {
        if (!(await this.flush(key))) ok = false;
      });
      if (!ok) break;
    }
    await this.flushArchives();
    return this.repo.pendingCount();
  }

  /**
   * `sync_from_cloud`: for every document in the store, load it when it is newer than Redis's
   * copy (e.g. after Redis lost its data), upload Redis's when that is newer; then upload every
   * Redis document the store does not have yet.
   */
  async syncFromCloud(): Promise<SyncReport> {
    const report: SyncReport = { loaded: 0, uploaded: 0, unchanged: 0, failed: 0 };
    const inStore = new Set<string>();
    let next: string | undefined;
    try {
      do {
        const page = await this.store.list(DOCUMENTS_PREFIX, next);
        next = page.next;
        const keys = page.keys.flatMap((k) => {
          const key = documentKeyOf(k);
          return key === undefined ? [] : [key];
        });
        keys.forEach((k) => inStore.add(k));
        await forEachLimited(keys, async (key) => {
          try {
            await this.reconcile(key, report);
          } catch (e) {
            report.failed++;
            this.logger.warn(`sync of '${key}' failed: ${(e as Error).message}`);
          }
        });
      } while (next !== undefined);
      this.healthy();
    } catch (e) {
      this.failed(e);
      throw e;
    }
    // Documents Redis has and the store does not (written while it was empty or unreachable).
    const missing: string[] = [];
    let after: string | undefined;
    for (;;) {
      const keys = await this.repo.listKeys('', after, 1000);
      if (keys.length === 0) break;
      missing.push(...keys.filter((k) => !inStore.has(k)));
      after = keys[keys.length - 1];
    }
    for (const key of await this.repo.pending(10_000)) {
      if (!inStore.has(key) && !missing.includes(key)) missing.push(key);
    }
    await forEachLimited(missing, async (key) => {
      if (await this.flush(key)) report.uploaded++;
      else report.failed++;
    });
    if (report.failed === 0) await this.redis.client.set(this.syncedKey, new Date().toISOString());
    return report;
  }

  /**
   * Loads `key` from the store when Redis has no trace of it (e.g. Redis lost its data since the
   * last sync), so a read finds it and a write continues its version history instead of starting
   * over. Skipped while the store is known to be down. True when a document was loaded.
   */
  async readThrough(key: string): Promise<boolean> {
    if (!this.status.healthy) return false;
    let object;
    try {
      object = await this.store.get(documentObjectKey(key));
    } catch (e) {
      this.failed(e);
      return false;
    }
    if (!object) return false;
    return this.repo.load(parseDocumentObject(key, object.body));
  }

  private async reconcile(key: string, report: SyncReport): Promise<void> {
    const meta = await this.store.head(documentObjectKey(key));
    const local = await this.repo.read(key);
    const stored = Number(meta?.version ?? 0);
    const current = local?.version ?? 0;
    if (stored > current) {
      const object = await this.store.get(documentObjectKey(key));
      if (!object) return;
      const doc = parseDocumentObject(key, object.body);
      if (await this.repo.load(doc)) report.loaded++;
      else report.unchanged++;
    } else if (current > stored) {
      if (await this.flush(key)) report.uploaded++;
      else report.failed++;
    } else {
      report.unchanged++;
    }
  }

  /** Keeps an archive record in Redis until the store takes it. */
  async holdArchive(objectKey: string, body: string): Promise<void> {
    await this.redis.client.hset(this.archiveKey, objectKey, body);
  }

  async pendingArchives(): Promise<number> {
    return this.redis.client.hlen(this.archiveKey);
  }

  private async flushArchives(): Promise<void> {
    const held = await this.redis.client.hgetall(this.archiveKey);
    for (const [objectKey, body] of Object.entries(held)) {
      try {
        await this.store.put(objectKey, body, { kind: 'workflow-archive' });
        this.healthy();
      } catch (e) {
        this.failed(e);
        return;
      }
      // Remove only what we uploaded: a newer record under the same key stays held.
      await this.redis.client.eval(
        "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0",
        1,
        this.archiveKey,
        objectKey,
        body,
      );
    }
  }

  private async runBackground(): Promise<void> {
    if (this.running) return;
    this.running = (async () => {
      try {
        if (this.config.state.syncOnStartup && !(await this.redis.client.exists(this.syncedKey))) {
          this.logger.warn(
            'Redis has no record of a state sync (data lost?): reloading from the store',
          );
          await this.syncFromCloud();
        }
        const pending = (await this.repo.pendingCount()) + (await this.pendingArchives());
        if (pending > 0) {
          const left = await this.flushPending();
          if (left === 0) this.logger.log('every pending document reached the store');
        } else if (!this.status.healthy) {
          await this.store.ping();
          this.healthy();
        }
      } catch (e) {
        if (isDependencyUnavailable(e) && !this.status.healthy) return;
        this.logger.warn(`state background sync: ${(e as Error).message}`);
      } finally {
        this.running = undefined;
      }
    })();
    await this.running;
  }

  private healthy(): void {
    if (!this.status.healthy) this.logger.log(`state store ${this.store.location} reachable again`);
    this.status = { healthy: true };
  }

  private failed(err: unknown): void {
    const message = (err as Error).message ?? String(err);
    if (this.status.healthy) {
      this.logger.warn(
        `state store ${this.store.location} failing (${message}): writes stay in Redis, pending upload`,
      );
    }
    this.status = { healthy: false, lastError: message, lastErrorAt: new Date().toISOString() };
  }
}
