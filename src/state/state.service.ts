import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { type Page, decodeCursor, encodeCursor } from '../common/http/pagination';
import { ConfigService } from '../config/config.service';
import type { ConflictStrategy } from '../config/sections/state.config';
import { withSpan } from '../observability/tracing';
import { RedisService } from '../redis/redis.service';
import { applyMergePatch } from './json-merge-patch.util';
import { DistributedLockService } from './lock/distributed-lock.service';
import type { LockHandle } from './lock/lock-handle';
import type { StateDocument } from './state-document.type';
import { assertValidKey, assertValidPrefix, strategyFor } from './state-key.util';
import { StateSyncService } from './state-sync.service';
import { StateRepository, type WriteOutcome, type WriteRequest } from './state.repository';

/** `If-Match` as parsed: a version (0 = must not exist), `*` (must exist) or absent. */
export type Precondition = number | '*' | undefined;

export interface SaveResult {
  doc: StateDocument;
  /** True when this version reached the durable store before the call returned. */
  stored: boolean;
}

export interface KeySummary {
  key: string;
  version: number;
  updatedAt: string;
}

type Decision = { kind: 'write'; value: unknown } | { kind: 'delete' };

/** Attempts of read-decide-write under one lock before giving up on a key that keeps moving. */
const MAX_ATTEMPTS = 5;

/**
 * Versioned JSON documents shared by every control-plane instance. Each write takes the
 * document's lock, reads the current version, decides (optimistic precondition, conflict strategy,
 * merge patch), and writes with the lock's fencing token and the version it read, so neither a
 * paused lock holder nor a concurrent writer can overwrite a newer version. The result is then
 * written through to the durable store.
 */
@Injectable()
export class StateService {
  constructor(
    private readonly repo: StateRepository,
    private readonly locks: DistributedLockService,
    private readonly sync: StateSyncService,
    private readonly redis: RedisService,
    private readonly config: ConfigService,
  ) {}

  strategyFor(key: string): ConflictStrategy {
    return strategyFor(
      key,
      this.config.state.namespaceStrategies,
      this.config.state.defaultStrategy,
    );
  }

  /** The live document; 404 when absent or deleted. */
  async get(key: string): Promise<StateDocument> {
    const doc = await this.find(key);
    if (!doc) throw AppException.notFound('state', key);
    return doc;
  }

  /** The live document or undefined (read through to the durable store on a Redis miss). */
  async find(key: string): Promise<StateDocument | undefined> {
    assertValidKey(key);
    let doc = await this.repo.read(key);
    if (!doc && (await this.sync.readThrough(key))) doc = await this.repo.read(key);
    return doc && !doc.deleted ? doc : undefined;
  }

  /**
   * Replaces the value. `ifMatch` is required except in last-write-wins namespaces (428); when it
   * names an older version the namespace strategy decides: reject (412), last-write-wins
   * (replace anyway) or merge-patch (merge the new value into the current one).
   */
  async put(key: string, value: unknown, ifMatch: Precondition, by: string): Promise<SaveResult> {
    assertValidKey(key);
    const strategy = this.strategyFor(key);
    if (ifMatch === undefined && strategy !== 'last-write-wins') {
      throw new AppException(
        ErrorCode.PreconditionRequired,
        `PUT needs If-Match: <version> (the ETag of the version you read), or If-None-Match: * to create '${key}'`,
        { key, strategy },
      );
    }
    this.assertSize(key, value);
    return this.save(key, by, (current) => {
      if (ifMatch === undefined || matches(ifMatch, current)) return { kind: 'write', value };
      this.conflict(key, strategy, ifMatch, current);
      return strategy === 'merge-patch' && current
        ? { kind: 'write', value: applyMergePatch(current.value, value) }
        : { kind: 'write', value };
    });
  }

  /**
   * Applies a JSON merge patch (RFC 7386) to the current value under the lock, so concurrent
   * patches are all applied. With `ifMatch`, a moved version follows the namespace strategy.
   */
  async patch(key: string, patch: unknown, ifMatch: Precondition, by: string): Promise<SaveResult> {
    assertValidKey(key);
    const strategy = this.strategyFor(key);
    return this.save(key, by, (current) => {
      if (ifMatch !== undefined && !matches(ifMatch, current)) {
        this.conflict(key, strategy, ifMatch, current);
        if (strategy === 'last-write-wins')
          return { kind: 'write', value: applyMergePatch(null, patch) };
      }
      const value = applyMergePatch(current?.value ?? null, patch);
      this.assertSize(key, value);
      return { kind: 'write', value };
    });
  }

  /** Deletes (a tombstone keeps the version counting). 404 when absent. */
  async delete(key: string, ifMatch: Precondition, by: string): Promise<SaveResult> {
    assertValidKey(key);
    const strategy = this.strategyFor(key);
    return this.save(key, by, (current) => {
      if (!current) throw AppException.notFound('state', key);
      if (ifMatch !== undefined && !matches(ifMatch, current))
        this.conflict(key, strategy, ifMatch, current);
      return { kind: 'delete' };
    });
  }

  /**
   * Read-modify-write for code (not HTTP): `fn` gets the current value (undefined when absent)
   * and returns the new one, under the document's lock.
   */
  async update(key: string, fn: (current: unknown) => unknown, by: string): Promise<SaveResult> {
    assertValidKey(key);
    return this.save(key, by, (current) => {
      const value = fn(current?.value);
      this.assertSize(key, value);
      return { kind: 'write', value };
    });
  }

  /** Live keys starting with `prefix`, in key order, a page at a time. */
  async list(prefix: string, cursor: string | undefined, limit: number): Promise<Page<KeySummary>> {
    assertValidPrefix(prefix);
    const after = decodeCursor(cursor);
    const keys = await this.repo.listKeys(prefix, after, limit + 1);
    const page = keys.slice(0, limit);
    const pipeline = this.redis.client.pipeline();
    for (const key of page) pipeline.hmget(this.repo.docKey(key), 'version', 'updatedAt');
    const rows = (await pipeline.exec()) ?? [];
    const items = page.map((key, i) => {
      const [version, updatedAt] = (rows[i]?.[1] as (string | null)[] | undefined) ?? [];
      return { key, version: Number(version ?? 0), updatedAt: updatedAt ?? '' };
    });
    const last = page[page.length - 1];
    return { items, nextCursor: keys.length > limit && last ? encodeCursor(last) : null };
  }

  /**
   * Writes under a lock the caller already holds (e.g. a workflow step that reads several
   * documents). The write carries the lock's fencing token: refused with 409 when a newer holder
   * exists.
   */
  async writeFenced(
    lock: LockHandle,
    value: unknown,
    by: string,
    expectedVersion?: number,
  ): Promise<SaveResult> {
    assertValidKey(lock.name);
    this.assertSize(lock.name, value);
    const request = {
      key: lock.name,
      expectedVersion,
      fence: lock.fence,
      value,
      updatedBy: by,
      updatedAt: new Date().toISOString(),
    };
    const outcome = await this.repo.write(request);
    if (outcome.status === 'fence') throw staleFence(lock.name, lock.fence, outcome.newerFence);
    if (outcome.status !== 'ok') {
      throw new AppException(
        ErrorCode.PreconditionFailed,
        `'${lock.name}' is not at version ${expectedVersion}`,
        {
          key: lock.name,
          currentVersion: outcome.currentVersion,
        },
      );
    }
    return this.afterWrite(documentOf(request, outcome.version));
  }

  private async save(
    key: string,
    by: string,
    decide: (current: StateDocument | undefined) => Decision,
  ): Promise<SaveResult> {
    return withSpan('state_save', { 'state.key': key }, async () => {
      let readThrough = false;
      for (let attempt = 1; ; attempt++) {
        // One round trip: take the lock and read the document; another: write and release.
        const { lock, value: stored } = await this.locks.acquireAndRead(
          key,
          this.repo.pipelinedRead(key),
        );
        if (!stored && !readThrough) {
          // Redis has no trace of the key: it is new, or Redis lost it since the last sync. Ask
          // the store once; if it had the document, take the lock again (loading raised the
          // fencing counter past the stored token) and decide on the loaded version.
          readThrough = true;
          let loaded: boolean;
          try {
            loaded = await this.sync.readThrough(key);
          } catch (e) {
            await lock.release().catch(() => false);
            throw e;
          }
          if (loaded) {
            await lock.release().catch(() => false);
            attempt--;
            continue;
          }
        }
        let outcome: WriteOutcome;
        let request: WriteRequest & { updatedAt: string };
        try {
          const current = stored && !stored.deleted ? stored : undefined;
          const decision = decide(current);
          request = {
            key,
            expectedVersion: current?.version ?? 0,
            fence: lock.fence,
            value: decision.kind === 'write' ? decision.value : null,
            delete: decision.kind === 'delete',
            updatedBy: by,
            updatedAt: new Date().toISOString(),
          };
          outcome = await this.repo.writeAndRelease(request, lock);
        } finally {
          await lock.release().catch(() => false); // no-op when already released with the write
        }
        if (outcome.status === 'ok') return this.afterWrite(documentOf(request, outcome.version));
        if (outcome.status === 'fence') throw staleFence(key, lock.fence, outcome.newerFence);
        if (outcome.status === 'missing') throw AppException.notFound('state', key);
        // The version moved although we held the lock: only a writer whose lock had expired can
        // do that (before our fencing token was issued). Take the lock again and decide again.
        if (attempt >= MAX_ATTEMPTS) {
          throw new AppException(ErrorCode.Conflict, `'${key}' keeps changing; try again`, { key });
        }
      }
    });
  }

  private async afterWrite(doc: StateDocument): Promise<SaveResult> {
    const stored = await this.sync.writeThrough(doc);
    return { doc, stored };
  }

  private conflict(
    key: string,
    strategy: ConflictStrategy,
    ifMatch: number | '*',
    current: StateDocument | undefined,
  ): void {
    if (strategy !== 'reject' && current) return;
    const currentVersion = current?.version ?? 0;
    throw new AppException(
      ErrorCode.PreconditionFailed,
      current
        ? `'${key}' is at version ${currentVersion}, not ${String(ifMatch)}: read it again and retry`
        : `'${key}' does not exist (If-Match: ${String(ifMatch)})`,
      { key, currentVersion, ifMatch, strategy },
    );
  }

  private assertSize(key: string, value: unknown): void {
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
    if (bytes > this.config.state.maxDocumentBytes) {
      throw new AppException(
        ErrorCode.PayloadTooLarge,
        `Document '${key}' would be ${bytes} bytes; the limit is ${this.config.state.maxDocumentBytes} (STATE_MAX_DOCUMENT_BYTES)`,
        { key, bytes, limit: this.config.state.maxDocumentBytes },
      );
    }
  }
}

function documentOf(request: WriteRequest & { updatedAt: string }, version: number): StateDocument {
  return {
    key: request.key,
    version,
    value: request.delete ? null : request.value,
    updatedAt: request.updatedAt,
    updatedBy: request.updatedBy,
    fence: request.fence,
    deleted: request.delete === true,
  };
}

function matches(ifMatch: number | '*', current: StateDocument | undefined): boolean {
  if (ifMatch === '*') return current !== undefined;
  return (current?.version ?? 0) === ifMatch;
}

function staleFence(key: string, fence: number, newer: number): AppException {
  return new AppException(
    ErrorCode.Conflict,
    `Write to '${key}' refused: fencing token ${fence} is older than ${newer} (the lock expired while held)`,
    { key, fence, newerFence: newer },
  );
}
