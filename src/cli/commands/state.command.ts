import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { CliError } from '../cli-error';
import { EXIT } from '../exit-codes';
import { output, readJsonInput } from '../output.util';

interface Backup {
  format: string;
  createdAt: string;
  documents: { key: string }[];
}

interface RestoreReport {
  restored: number;
  unchanged: number;
  keys: { key: string; version: number }[];
}

interface SyncReport {
  loaded: number;
  uploaded: number;
  unchanged: number;
  failed: number;
  pending: number;
}

/** `switchyard state ...`: snapshots of the shared state, restore, and S3 reconciliation. */
export function registerStateCommand(program: Command): void {
  const state = program
    .command('state')
    .description('Shared state documents: backup, restore, sync with S3');

  withClientOptions(
    state
      .command('backup')
      .description('Write a full snapshot of every document (admin token) to a file or stdout')
      .option('--out <file>', 'file to write (default: stdout)'),
  ).action(async (opts: ClientOptions & { out?: string }) => {
    const backup = await new ApiClient(opts).get<Backup>('/v1/state-backup');
    const text = `${JSON.stringify(backup, null, 2)}\n`;
    if (!opts.out) {
      process.stdout.write(text);
      return;
    }
    try {
      writeFileSync(opts.out, text);
    } catch (e) {
      throw new CliError(`cannot write ${opts.out}: ${(e as Error).message}`, EXIT.failure);
    }
    process.stderr.write(
      `wrote ${backup.documents.length} document(s) taken at ${backup.createdAt} to ${opts.out}\n`,
    );
  });

  withClientOptions(
    state
      .command('restore <file>')
      .description(
        'Restore a snapshot (admin token; `-` reads stdin): each value becomes a new version',
      ),
  ).action(async (file: string, opts: ClientOptions) => {
    const backup = readJsonInput(file);
    const report = await new ApiClient(opts).post<RestoreReport>('/v1/state-restore', backup);
    output(
      opts.json,
      report,
      () =>
        `restored ${report.restored} document(s), ${report.unchanged} already equal (${report.keys.length} written)\n`,
    );
  });

  withClientOptions(
    state
      .command('sync')
      .description(
        'Reconcile with the durable store now (admin token): load newer, upload newer, flush pending',
      ),
  ).action(async (opts: ClientOptions) => {
    const report = await new ApiClient(opts).post<SyncReport>('/v1/state-sync');
    output(
      opts.json,
      report,
      () =>
        `loaded ${report.loaded}, uploaded ${report.uploaded}, unchanged ${report.unchanged}, failed ${report.failed}, still pending ${report.pending}\n`,
    );
  });
}
