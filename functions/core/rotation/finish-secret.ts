import { isRetryable } from '../errors';
import type { Keyset } from '../crypto/keyrings/keyset';
import { AuditLog } from '../keys/audit';
import { AWSCURRENT, AWSPENDING } from '../ports/secrets';
import { destroyedKeyIds, newestKeyId, registerKeysetInCatalog } from './catalog-keys';
import { DEFAULT_ROTATION_ACTOR, type RotationDeps, type StepResult } from './deps';
import type { RotationEvent } from './event';
import { assertKeepsEveryKey } from './keyset-checks';
import { readCurrentKeyset, requireTokenKeyset } from './keyset-versions';
import type { RotationState } from './secret-state';

/**
 * finishSecret, in an order where a failure at any point leaves every reader
 * working and a re-run completes the rest:
 * 1. check once more that the token's keyset keeps every AWSCURRENT key, and
 *    that the catalog knows the new key (setSecret's work, idempotent);
 * 2. move AWSCURRENT to the token's version (RemoveFromVersionId: the old
 *    one, which Secrets Manager labels AWSPREVIOUS), then take AWSPENDING off
 *    it — the rotation ends with no AWSPENDING anywhere, one of the two end
 *    states Secrets Manager accepts;
 * 3. catalog: the new key active, the previous active key rotating
 *    (KeyCatalog.activate, one transaction). Only now does anything encrypt
 *    under the new key, and every reader of AWSCURRENT already has it;
 * 4. start the `rewrap` execution to the new key — not for a first keyset —
 *    and record it in the audit log (`rotation.rewrap_started`, subject
 *    `rotation:<token>`). The execution is named after the token, so even a
 *    re-run that finds no record starts no second one.
 * A re-run when the token is already AWSCURRENT skips what is done and still
 * makes sure of 3 and 4.
 *
 * 3 and 4 come after the point of no return: once AWSPENDING is gone, Secrets
 * Manager considers the rotation over and may never call again with this
 * token. So a retryable failure there (a throttled StartExecution, a database
 * resuming) is retried within this call, with backoff, before the step gives
 * up; if it still fails, RotationFailed fires and docs/alarms.md says how to
 * re-run finishSecret with the same token, which completes the rest.
 */
export async function finishSecret(
  deps: RotationDeps,
  event: RotationEvent,
  state: RotationState,
): Promise<StepResult> {
  const step = 'finishSecret' as const;
  const keyset = await requireTokenKeyset(deps, event, state);
  const newKeyId = keyset.primary;
  const changes: string[] = [];

  if (!state.tokenIsCurrent) {
    assertKeepsEveryKey(
      await readCurrentKeyset(deps, event, state),
      keyset,
      `finishSecret of ${state.secretName}`,
      await destroyedKeyIds(deps.catalog),
      deps.twoPhase === true,
    );
  }
  await deps.ensureSchema?.();
  const { added } = await registerKeysetInCatalog(deps, keyset);
  if (added.length > 0) changes.push(`registered ${added.join(', ')}`);

  await moveStages(deps, event, state, changes);

  if (deps.twoPhase === true && keyset.keys.length > 1) {
    // Phase one ends here: every reader of AWSCURRENT gets the new KEK within one cache TTL; nothing encrypts under it yet.
    return publishedDecryptOnly(step, keyset, changes);
  }

  const promoted = await activateNewKey(deps, newKeyId, changes);

  let executionArn: string | undefined;
  if (keyset.keys.length > 1) {
    const rewrap = await afterPromotion(deps, () => ensureRewrapStarted(deps, event, state, newKeyId));
    if (rewrap.started) changes.push(`rewrap to ${newKeyId} started`);
    executionArn = rewrap.executionArn;
  }

  const createdAt = Date.parse(keyset.keys.find((k) => k.id === newKeyId)!.createdAt);
  const now = (deps.now?.() ?? new Date()).getTime();
  return {
    step,
    outcome: changes.length > 0 ? 'done' : 'already-done',
    newKeyId,
    promoted,
    rotationDurationMs: Math.max(0, now - createdAt),
    ...(executionArn !== undefined ? { executionArn } : {}),
    detail:
      changes.length > 0
        ? changes.join('; ')
        : `${newKeyId} is already AWSCURRENT and active${keyset.keys.length > 1 ? '; its rewrap was already started' : ''}`,
  };
}

/** AWSCURRENT moved to the token's version, then AWSPENDING removed from it, each unless done meanwhile. */
async function moveStages(
  deps: RotationDeps,
  event: RotationEvent,
  state: RotationState,
  changes: string[],
): Promise<void> {
  if (!state.tokenIsCurrent) {
    const moved = await unlessDoneMeanwhile(
      deps,
      event,
      (stages) => stages.includes(AWSCURRENT),
      () =>
        deps.secrets.updateSecretVersionStage({
          secretId: event.SecretId,
          versionStage: AWSCURRENT,
          moveToVersionId: event.ClientRequestToken,
          ...(state.currentVersionId !== undefined ? { removeFromVersionId: state.currentVersionId } : {}),
        }),
    );
    if (moved) changes.push(`AWSCURRENT moved to ${event.ClientRequestToken}`);
  }
  if (state.tokenStages.includes(AWSPENDING)) {
    const removed = await unlessDoneMeanwhile(
      deps,
      event,
      (stages) => !stages.includes(AWSPENDING),
      () =>
        deps.secrets.updateSecretVersionStage({
          secretId: event.SecretId,
          versionStage: AWSPENDING,
          removeFromVersionId: event.ClientRequestToken,
        }),
    );
    if (removed) changes.push('AWSPENDING removed');
  }
}

/** The two-phase result: the new key is published for decryption; its promotion waits for every reader. */
function publishedDecryptOnly(step: 'finishSecret', keyset: Keyset, changes: readonly string[]): StepResult {
  const added = newestKeyId(keyset);
  return {
    step,
    outcome: changes.length > 0 ? 'done' : 'already-done',
    newKeyId: added,
    promoted: false,
    detail: `${changes.length > 0 ? `${changes.join('; ')}; ` : ''}${added} published decrypt-only (primary still ${keyset.primary}); promote it once every reader reports it (rekey readers --key ${added})`,
  };
}

/** The new key made active in the catalog (the previous one rotating); false when it already was. */
function activateNewKey(deps: RotationDeps, newKeyId: string, changes: string[]): Promise<boolean> {
  return afterPromotion(deps, async () => {
    const before = await deps.catalog.require(newKeyId);
    if (before.status === 'active') return false;
    const previous = (await deps.catalog.active(null))?.id;
    await deps.catalog.activate(newKeyId, deps.actor ?? DEFAULT_ROTATION_ACTOR);
    changes.push(`${newKeyId} active${previous ? `, ${previous} rotating` : ''}`);
    return true;
  });
}

/**
 * Runs a stage move; when it is refused, reads the token version's stages
 * again: if they already are what the move was for, an invocation running at
 * the same time (Secrets Manager retrying a slow call) made it, and this one
 * goes on without it (false). Otherwise the refusal stands.
 */
async function unlessDoneMeanwhile(
  deps: RotationDeps,
  event: RotationEvent,
  done: (stages: readonly string[]) => boolean,
  move: () => Promise<void>,
): Promise<boolean> {
  try {
    await move();
    return true;
  } catch (err) {
    const stages =
      (await deps.secrets.describeSecret({ secretId: event.SecretId })).versionIdsToStages[event.ClientRequestToken] ??
      [];
    if (done(stages)) return false;
    throw err;
  }
}

const REWRAP_STARTED = 'rotation.rewrap_started';

/** Pauses between attempts of the work after the promotion (about 9 s in all, well inside the function's timeout). */
export const AFTER_PROMOTION_RETRY_DELAYS_MS: readonly number[] = [500, 1500, 3000, 4000];

/** Runs `work`, again after each delay while it fails with a retryable error. */
async function afterPromotion<T>(deps: RotationDeps, work: () => Promise<T>): Promise<T> {
  const delays = deps.retryDelaysMs ?? AFTER_PROMOTION_RETRY_DELAYS_MS;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= delays.length || !isRetryable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
    }
  }
}

/**
 * Starts the rotation's rewrap unless the audit log says it was; `started`
 * when this call started it. Step Functions' own answer cannot
 * tell a repeat from a start (it accepts a repeat of a running execution),
 * hence the record. A crash between the start and the record makes the
 * re-run call StartExecution again, which the execution name keeps harmless.
 */
export async function ensureRewrapStarted(
  deps: RotationDeps,
  event: RotationEvent,
  state: RotationState,
  targetKeyId: string,
): Promise<{ started: boolean; executionArn?: string }> {
  const subject = `rotation:${event.ClientRequestToken}`;
  // One transaction under a lock on the rotation: two finishSecret calls at once (a retry while the first
  // still runs) would both find no record and both record a start; the second now waits and finds it.
  return deps.sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [subject]);
    const audit = new AuditLog(tx);
    if ((await audit.list({ subject, action: REWRAP_STARTED, limit: 1 })).length > 0) return { started: false };
    const started = await deps.executions.startRewrap({
      targetKeyId,
      reason: `keyset rotation ${event.ClientRequestToken}`,
      clientToken: event.ClientRequestToken,
    });
    await audit.record(tx, {
      actor: deps.actor ?? DEFAULT_ROTATION_ACTOR,
      action: REWRAP_STARTED,
      subject,
      details: {
        secret: state.secretArn,
        targetKeyId,
        executionArn: started.executionArn,
        startedByThisCall: started.started,
      },
    });
    return {
      started: started.started,
      ...(started.started && started.executionArn ? { executionArn: started.executionArn } : {}),
    };
  });
}
