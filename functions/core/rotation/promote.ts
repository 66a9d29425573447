import { createHash } from 'node:crypto';
import { setPrimary } from '../crypto/keyrings/keyset-changes';
import { parseKeyset, serializeKeyset } from '../crypto/keyrings/keyset-document';
import { AuditLog } from '../keys/audit';
import { AWSCURRENT } from '../ports/secrets';
import { gateActivation, type ActivationGateOptions } from '../readers/gate';
import { DEFAULT_ROTATION_ACTOR, type RotationDeps } from './deps';
import { RotationStateError } from './errors';

export interface PromoteResult {
  readonly keyId: string;
  /** What this call did (empty when a re-run found everything done). */
  readonly changes: readonly string[];
  /** Readers overridden with `force`. */
  readonly forcedPast: readonly string[];
  readonly executionArn?: string;
}

const REWRAP_STARTED = 'rotation.rewrap_started';

/**
 * Phase two of a two-phase keyset rotation: `keyId` (published decrypt-only
 * by the rotation) becomes primary. In an order where every step is safe to
 * re-run and a failure leaves readers working:
 * 1. the rollout gate: every live reader reports `keyId` (`waitSeconds`;
 *    `force` is audited as `key.activation_forced`);
 * 2. AWSCURRENT becomes the same keyset with `keyId` as primary (a new
 *    version whose token derives from the current version and the key, so a
 *    re-run writes the same version);
 * 3. the catalog makes `keyId` active (the previous key `rotating`);
 * 4. the rewrap to `keyId` starts, once (recorded in the audit log, subject
 *    `promote:<keyId>`; the execution's client token is the version's).
 */
export async function promoteKeysetKey(
  deps: RotationDeps,
  secretId: string,
  keyId: string,
  gate: Omit<ActivationGateOptions, 'actor' | 'audit'> & {
    /** false: leave the rewrap to the caller (the CLI without a state machine runs `rekey reencrypt`). @default true */
    readonly startRewrap?: boolean;
  } = {},
): Promise<PromoteResult> {
  const actor = deps.actor ?? DEFAULT_ROTATION_ACTOR;
  const audit = new AuditLog(deps.sql);
  const current = await deps.secrets.getSecretValue({ secretId, versionStage: AWSCURRENT });
  const keyset = parseKeyset(current.string, `${secretId} (AWSCURRENT)`);
  if (!keyset.keys.some((k) => k.id === keyId)) {
    throw new RotationStateError(
      `${keyId} is not in the keyset's AWSCURRENT version: rotate the secret first (it adds the next KEK decrypt-only)`,
    );
  }
  const catalogKey = await deps.catalog.require(keyId);
  if (catalogKey.status !== 'pending' && catalogKey.status !== 'active') {
    throw new RotationStateError(`${keyId} is ${catalogKey.status} in the catalog: only a pending key can be promoted`);
  }
  const changes: string[] = [];
  const forced = keyset.primary === keyId ? [] : await gateActivation(deps.sql, keyId, { ...gate, actor, audit });

  const token = tokenFor(keyset.primary === keyId ? current.versionId : `${current.versionId}:${keyId}`);
  if (keyset.primary !== keyId) {
    await deps.secrets.putSecretValue({
      secretId,
      clientRequestToken: token,
      string: serializeKeyset(setPrimary(keyset, keyId)),
      versionStages: [AWSCURRENT],
    });
    changes.push(`AWSCURRENT has ${keyId} as primary`);
  }
  if ((await deps.catalog.require(keyId)).status !== 'active') {
    await deps.catalog.activate(keyId, actor);
    changes.push(`${keyId} active`);
  }
  const subject = `promote:${keyId}`;
  let executionArn: string | undefined;
  if (gate.startRewrap !== false && (await audit.list({ subject, action: REWRAP_STARTED, limit: 1 })).length === 0) {
    const started = await deps.executions.startRewrap({
      targetKeyId: keyId,
      reason: `keyset promotion of ${keyId}`,
      clientToken: tokenFor(`promote:${keyId}`),
    });
    await audit.record(deps.sql, {
      actor,
      action: REWRAP_STARTED,
      subject,
      details: {
        secret: secretId,
        targetKeyId: keyId,
        executionArn: started.executionArn,
        startedByThisCall: started.started,
      },
    });
    if (started.started) changes.push(`rewrap to ${keyId} started`);
    executionArn = started.executionArn ?? undefined;
  }
  return { keyId, changes, forcedPast: forced.map((r) => r.readerId), ...(executionArn ? { executionArn } : {}) };
}

/** A Secrets Manager client request token (a UUID-shaped string) determined by `seed`. */
function tokenFor(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
