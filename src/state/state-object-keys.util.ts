import type { StateDocument } from './state-document.type';

/** Layout of the durable store (under S3_PREFIX): see docs/DISTRIBUTED-STATE.md. */
export const DOCUMENTS_PREFIX = 'state/';
export const WORKFLOWS_PREFIX = 'workflows/';

export const documentObjectKey = (key: string): string => `${DOCUMENTS_PREFIX}${key}.json`;

/** The document key of an object key, or undefined for objects that are not documents. */
export function documentKeyOf(objectKey: string): string | undefined {
  if (!objectKey.startsWith(DOCUMENTS_PREFIX) || !objectKey.endsWith('.json')) return undefined;
  return objectKey.slice(DOCUMENTS_PREFIX.length, -'.json'.length);
}

export const workflowObjectKey = (workflowId: string): string =>
  `${WORKFLOWS_PREFIX}${workflowId}.json`;

/** Object metadata of a document version (S3 user metadata: lower-case keys, string values). */
export function documentMetadata(doc: StateDocument): Record<string, string> {
  return {
    version: String(doc.version),
    fence: String(doc.fence),
    deleted: doc.deleted ? '1' : '0',
    'updated-at': doc.updatedAt,
  };
}

/** Parses a stored document object; throws on a malformed one. */
export function parseDocumentObject(key: string, body: string): StateDocument {
  const raw = JSON.parse(body) as Partial<StateDocument>;
  if (typeof raw.version !== 'number' || raw.key !== key) {
    throw new Error(`stored object for '${key}' is not a state document`);
  }
  return {
    key,
    version: raw.version,
    value: raw.value ?? null,
    updatedAt: String(raw.updatedAt ?? ''),
    updatedBy: String(raw.updatedBy ?? ''),
    fence: Number(raw.fence ?? 0),
    deleted: raw.deleted === true,
  };
}
