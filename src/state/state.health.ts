import { Injectable } from '@nestjs/common';
import { ReadinessRegistry } from '../observability/health/readiness.registry';
import { StateSyncService } from './state-sync.service';
import { StateRepository } from './state.repository';

/**
 * Reports the durable store to `/health/ready` as `state-store`: `degraded` (never `down`) when
 * it does not answer, because writes still succeed in Redis and are uploaded later.
 */
@Injectable()
export class StateStoreHealthIndicator {
  constructor(readiness: ReadinessRegistry, sync: StateSyncService, repo: StateRepository) {
    readiness.register('state-store', async () => {
      const pending = await repo.pendingCount().catch(() => null);
      const pendingArchives = await sync.pendingArchives().catch(() => null);
      const base = {
        backend: sync.store.kind,
        location: sync.store.location,
        pending,
        pendingArchives,
      };
      const t0 = process.hrtime.bigint();
      try {
        await sync.store.ping();
      } catch (e) {
        return { status: 'degraded', ...base, error: (e as Error).message };
      }
      const latencyMs = Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100;
      const status = sync.storeStatus.healthy ? 'up' : 'degraded';
      return {
        status,
        ...base,
        latencyMs,
        ...(sync.storeStatus.lastError ? { lastError: sync.storeStatus.lastError } : {}),
      };
    });
  }
}
