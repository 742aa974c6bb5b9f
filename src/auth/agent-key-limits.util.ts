import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import type { Principal } from './principal.type';

/**
 * Refuses (403) a registration or heartbeat by an agent token that claims more than its key
 * allows: a capability not on the key's list, a `maxLoad` or `ttlSeconds` above its limits.
 * Other roles are not limited here.
 */
export function assertWithinAgentKeyLimits(
  principal: Principal | undefined,
  claim: { capabilities?: readonly string[]; maxLoad?: number; ttlSeconds?: number },
): void {
  const limits = principal?.agentLimits;
  if (!limits) return;
  const allowed = new Set(limits.capabilities);
  const refused = (claim.capabilities ?? []).filter((c) => !allowed.has(c));
  if (refused.length > 0) {
    throw new AppException(
      ErrorCode.Forbidden,
      `This agent key may not register capabilit${refused.length === 1 ? 'y' : 'ies'} ${refused.map((c) => `'${c}'`).join(', ')}` +
        (limits.capabilities.length === 0
          ? ' (the key lists no capabilities)'
          : ` (allowed: ${limits.capabilities.join(', ')})`),
      { refused, allowed: limits.capabilities },
    );
  }
  if (claim.maxLoad !== undefined && claim.maxLoad > limits.maxLoad) {
    throw new AppException(
      ErrorCode.Forbidden,
      `maxLoad ${claim.maxLoad} is above this agent key's limit of ${limits.maxLoad}`,
      { field: 'maxLoad', limit: limits.maxLoad },
    );
  }
  if (claim.ttlSeconds !== undefined && claim.ttlSeconds > limits.maxTtlSeconds) {
    throw new AppException(
      ErrorCode.Forbidden,
      `ttlSeconds ${claim.ttlSeconds} is above this agent key's limit of ${limits.maxTtlSeconds}`,
      { field: 'ttlSeconds', limit: limits.maxTtlSeconds },
    );
  }
}
