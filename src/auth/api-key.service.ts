import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import { ConfigService } from '../config/config.service';
import { PLACEHOLDER_TOKENS } from '../config/sections/auth.config';
import type { Principal } from './principal.type';
import { Role } from './role.enum';

/** Limits of an agent key when the key does not set its own. */
export const AGENT_KEY_DEFAULT_MAX_LOAD = 100;
export const AGENT_KEY_DEFAULT_MAX_TTL_SECONDS = 300;

const apiKeySchema = z
  .strictObject({
    name: z.string().min(1),
    role: z.enum(Role).refine((r) => r !== Role.Task, {
      message: 'task credentials are issued per task, not configured as keys',
    }),
    sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex characters (sha256 of the token)'),
    agentId: z.string().min(1).optional(),
    capabilities: z
      .array(z.string().min(1).max(128))
      .max(100)
      .optional()
      .describe('agent keys: the only capabilities the agent may register (none when absent)'),
    maxLoad: z.number().int().min(1).max(1_000_000).optional(),
    maxTtlSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .refine((k) => k.role !== Role.Agent || k.agentId !== undefined, {
    message: 'an agent key needs agentId',
    path: ['agentId'],
  })
  .refine(
    (k) =>
      k.role === Role.Agent ||
      (k.capabilities === undefined && k.maxLoad === undefined && k.maxTtlSeconds === undefined),
    { message: 'capabilities, maxLoad and maxTtlSeconds apply to agent keys only' },
  );

export const apiKeyListSchema = z.array(apiKeySchema);
export type ApiKeyEntry = z.infer<typeof apiKeySchema>;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Thrown at boot when configured keys are malformed. */
export class ApiKeyConfigError extends Error {}

/**
 * Holds the API keys, only as sha256 hashes. `SWITCHYARD_ADMIN_TOKEN` alone yields one admin key;
 * more come from `SWITCHYARD_API_KEYS` (JSON) or `SWITCHYARD_API_KEYS_FILE`.
 */
@Injectable()
export class ApiKeyService {
  private readonly logger = new Logger(ApiKeyService.name);
  private readonly byHash = new Map<string, Principal>();
  readonly disabled: boolean;

  constructor(config: ConfigService) {
    this.disabled = config.auth.disabled;
    if (config.auth.adminToken) {
      this.byHash.set(hashToken(config.auth.adminToken), { name: 'admin', role: Role.Admin });
    }
    const sources: [string, string | undefined][] = [
      ['SWITCHYARD_API_KEYS', config.auth.apiKeys],
      [
        'SWITCHYARD_API_KEYS_FILE',
        config.auth.apiKeysFile ? this.readFile(config.auth.apiKeysFile) : undefined,
      ],
    ];
    for (const [source, text] of sources) {
      if (text === undefined) continue;
      for (const key of this.parse(source, text)) {
        this.byHash.set(key.sha256.toLowerCase(), {
          name: key.name,
          role: key.role,
          agentId: key.agentId,
          ...(key.role === Role.Agent && {
            agentLimits: {
              capabilities: key.capabilities ?? [],
              maxLoad: key.maxLoad ?? AGENT_KEY_DEFAULT_MAX_LOAD,
              maxTtlSeconds: key.maxTtlSeconds ?? AGENT_KEY_DEFAULT_MAX_TTL_SECONDS,
            },
          }),
        });
        if (key.role === Role.Agent && !key.capabilities?.length) {
          this.logger.warn(
            `${source}: agent key '${key.name}' lists no capabilities, so it cannot register its agent`,
          );
        }
      }
    }
    if (this.disabled) {
      this.logger.warn(
        'AUTH_DISABLED=true: every request acts as admin. Never use this in production.',
      );
    } else if (this.byHash.size === 0) {
      this.logger.warn(
        'No API keys configured: every /v1 request will get 401. Set SWITCHYARD_ADMIN_TOKEN.',
      );
    }
  }

  get keyCount(): number {
    return this.byHash.size;
  }

  /** Returns the principal for a bearer token, or undefined when the token is unknown. */
  verify(token: string): Principal | undefined {
    if (this.disabled) return { name: 'anonymous', role: Role.Admin };
    return this.byHash.get(hashToken(token));
  }

  private readFile(path: string): string {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new ApiKeyConfigError(
        `SWITCHYARD_API_KEYS_FILE: cannot read ${path}: ${(e as Error).message}`,
      );
    }
  }

  private parse(source: string, text: string): ApiKeyEntry[] {
    const entries = this.parseEntries(source, text);
    // Only hashes are configured: a key is a known placeholder when its hash is one's hash.
    const placeholders = new Set(PLACEHOLDER_TOKENS.map(hashToken));
    for (const key of entries) {
      if (placeholders.has(key.sha256.toLowerCase())) {
        throw new ApiKeyConfigError(
          `${source}: key '${key.name}' is the hash of a placeholder token from the docs; generate a real one`,
        );
      }
    }
    return entries;
  }

  private parseEntries(source: string, text: string): ApiKeyEntry[] {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ApiKeyConfigError(`${source}: not valid JSON: ${(e as Error).message}`);
    }
    const result = apiKeyListSchema.safeParse(json);
    if (!result.success) {
      const problems = result.error.issues
        .map((i) => `[${i.path.join('.')}] ${i.message}`)
        .join('; ');
      throw new ApiKeyConfigError(`${source}: ${problems}`);
    }
    return result.data;
  }
}
