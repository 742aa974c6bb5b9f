import { Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import type { StateBackup } from './state.schemas';
import { StateRepository } from './state.repository';
import { StateService } from './state.service';

export interface RestoreReport {
  restored: number;
  unchanged: number;
  keys: { key: string; version: number }[];
}

/**
 * Full snapshots of every live document (`switchyard state backup`) and their restore. A restore
 * writes each value as a new version under the document's lock, so versions stay monotonic and
 * a client holding an older ETag cannot overwrite restored data by accident.
 */
@Injectable()
export class StateBackupService {
  constructor(
    private readonly repo: StateRepository,
    private readonly state: StateService,
  ) {}

  async snapshot(): Promise<StateBackup> {
    const documents: StateBackup['documents'] = [];
    let after: string | undefined;
    for (;;) {
      const keys = await this.repo.listKeys('', after, 500);
      if (keys.length === 0) break;
      for (const key of keys) {
        const doc = await this.repo.read(key);
        if (doc && !doc.deleted) {
          documents.push({
            key,
            version: doc.version,
            value: doc.value,
            updatedAt: doc.updatedAt,
            updatedBy: doc.updatedBy,
          });
        }
      }
      after = keys[keys.length - 1];
    }
    return {
      format: 'switchyard-state-backup',
      formatVersion: 1,
      createdAt: new Date().toISOString(),
      documents,
    };
  }

  async restore(backup: StateBackup, by: string): Promise<RestoreReport> {
    const report: RestoreReport = { restored: 0, unchanged: 0, keys: [] };
    for (const d of backup.documents) {
      let changed = false;
      const result = await this.state.update(
        d.key,
        (current) => {
          changed = !isDeepStrictEqual(current, d.value);
          return d.value;
        },
        by,
      );
      if (changed) report.restored++;
      else report.unchanged++;
      report.keys.push({ key: d.key, version: result.doc.version });
    }
    return report;
  }
}
