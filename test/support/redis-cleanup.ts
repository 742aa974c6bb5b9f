import { deleteKeys } from '../../bench/support/redis-keys';

/** Deletes every key under `prefix` (SCAN + UNLINK, never KEYS). */
export async function deletePrefix(
  prefix: string,
  url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
): Promise<void> {
  await deleteKeys(url, prefix);
}
