/** One versioned document as stored (Redis hash, object in the durable store). */
export interface StateDocument {
  /** Namespaced key, e.g. `project/alpha`. */
  key: string;
  /** Monotonic per key (never reused, even across a delete). */
  version: number;
  /** The JSON value; `null` for a tombstone. */
  value: unknown;
  /** ISO 8601. */
  updatedAt: string;
  /** Name of the principal (or component) that wrote this version. */
  updatedBy: string;
  /** Fencing token of the lock under which this version was written. */
  fence: number;
  /** A tombstone: the key was deleted at this version. */
  deleted: boolean;
}
