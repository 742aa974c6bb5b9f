import { createHmac, timingSafeEqual } from 'node:crypto';

/** Prefix of every task credential; tells it apart from an API key at a glance. */
export const TASK_CREDENTIAL_PREFIX = 'syt1';

/** What a task credential asserts. Signed, not encrypted: it carries ids, never secrets. */
export interface TaskCredentialClaims {
  /** The task the credential was issued to. */
  taskId: string;
  /** Root of its delegation tree (the task itself for a root). */
  rootTaskId: string;
  /** Parent task, for a child. */
  parentTaskId?: string;
  /** Workflow of the tree (the root's). */
  workflowId?: string;
  /** Agent running the task when the credential was issued. */
  agentId?: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

interface WireClaims {
  t: string;
  r: string;
  p?: string;
  w?: string;
  a?: string;
  e: number;
}

function sign(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(`${TASK_CREDENTIAL_PREFIX}.${body}`).digest('base64url');
}

/** `syt1.<base64url claims>.<base64url HMAC-SHA256>`. */
export function encodeTaskCredential(key: Buffer, claims: TaskCredentialClaims): string {
  const wire: WireClaims = {
    t: claims.taskId,
    r: claims.rootTaskId,
    ...(claims.parentTaskId ? { p: claims.parentTaskId } : {}),
    ...(claims.workflowId ? { w: claims.workflowId } : {}),
    ...(claims.agentId ? { a: claims.agentId } : {}),
    e: claims.exp,
  };
  const body = Buffer.from(JSON.stringify(wire)).toString('base64url');
  return `${TASK_CREDENTIAL_PREFIX}.${body}.${sign(key, body)}`;
}

export function looksLikeTaskCredential(token: string): boolean {
  return token.startsWith(`${TASK_CREDENTIAL_PREFIX}.`);
}

/**
 * Reads the claims WITHOUT checking the signature or expiry. Only for scheduling hints inside
 * the worker (which received the credential from the control plane over the bus); never for
 * authorisation.
 */
export function peekTaskCredential(token: string): TaskCredentialClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TASK_CREDENTIAL_PREFIX) return undefined;
  try {
    const w = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as WireClaims;
    if (typeof w.t !== 'string' || typeof w.r !== 'string' || typeof w.e !== 'number') {
      return undefined;
    }
    return {
      taskId: w.t,
      rootTaskId: w.r,
      ...(typeof w.p === 'string' ? { parentTaskId: w.p } : {}),
      ...(typeof w.w === 'string' ? { workflowId: w.w } : {}),
      ...(typeof w.a === 'string' ? { agentId: w.a } : {}),
      exp: w.e,
    };
  } catch {
    return undefined;
  }
}

export type VerifyResult =
  | { ok: true; claims: TaskCredentialClaims }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/** Checks the signature (constant time) and the expiry. */
export function verifyTaskCredential(key: Buffer, token: string, nowMs: number): VerifyResult {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TASK_CREDENTIAL_PREFIX) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = Buffer.from(sign(key, parts[1]));
  const given = Buffer.from(parts[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'bad_signature' };
  }
  const claims = peekTaskCredential(token);
  if (!claims) return { ok: false, reason: 'malformed' };
  if (claims.exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}
