/** Injection token of the durable store. */
export const OBJECT_STORE = Symbol('OBJECT_STORE');

export interface StoredObject {
  body: string;
  metadata: Record<string, string>;
}

export interface ObjectPage {
  keys: string[];
  /** Pass back to get the next page; undefined on the last page. */
  next?: string;
}

/**
 * The durable object store behind the State module: S3 (or any S3-compatible server) or a local
 * directory. Keys are `/`-separated paths under the store's own prefix. Implementations retry
 * transient errors themselves and throw when a call finally fails.
 */
export interface ObjectStore {
  /** `s3` or `local`. */
  readonly kind: string;
  /** Human-readable location, e.g. `s3://bucket/prefix/`. */
  readonly location: string;
  put(key: string, body: string, metadata: Record<string, string>): Promise<void>;
  /** Undefined when there is no such object. */
  get(key: string): Promise<StoredObject | undefined>;
  /** The object's metadata only; undefined when there is no such object. */
  head(key: string): Promise<Record<string, string> | undefined>;
  /** Keys under `prefix`, a page at a time, in lexicographic order. */
  list(prefix: string, next?: string): Promise<ObjectPage>;
  delete(key: string): Promise<void>;
  /** Throws when the store cannot be reached (one attempt, no retry). */
  ping(): Promise<void>;
  close?(): Promise<void>;
}
