import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { EncryptionContext } from '../crypto/context';
import { EnvelopeCipher } from '../crypto/envelope-cipher';
import { HierarchicalKeyring } from '../crypto/keyrings/hierarchical';
import { isRetryable, RekeyError } from '../errors';
import { StaticKeyPolicy } from '../crypto/key-policy';
import { AWSCURRENT, AWSPENDING } from '../ports/secrets';
import type { RotationDeps, StepResult } from './deps';
import { RotationSelfTestError } from './errors';
import type { RotationEvent } from './event';
import { destroyedKeyIds } from './catalog-keys';
import { assertKeepsEveryKey } from './keyset-checks';
import { readCurrentKeyset, requireTokenKeyset } from './keyset-versions';
import type { RotationState } from './secret-state';

/**
 * testSecret: proves the pending keyset can replace AWSCURRENT before
 * anything depends on it.
 * 1. No key lost: same KMS key, every current key with the same wrapped
 *    bytes, a new primary (assertKeepsEveryKey).
 * 2. Every pending KEK unwraps (loading the keyring unwraps them all) and
 *    wraps: a random value sealed under the new primary is rewrapped to each
 *    key and opened again.
 * 3. Old data stays readable: for each AWSCURRENT key not destroyed, a probe
 *    sealed through the AWSCURRENT keyring opens through the pending one.
 * Probes are random, compared in constant time and zeroed; the keyrings'
 * KEKs are zeroed when the test ends. Read-only: a re-run repeats it.
 */
export async function testSecret(deps: RotationDeps, event: RotationEvent, state: RotationState): Promise<StepResult> {
  const step = 'testSecret' as const;
  const pending = await requireTokenKeyset(deps, event, state);
  const current = await readCurrentKeyset(deps, event, state);
  const destroyed = await destroyedKeyIds(deps.catalog);
  assertKeepsEveryKey(current, pending, `testSecret of ${state.secretName}`, destroyed, deps.twoPhase === true);

  const ring = (versionStage: string, versionId: string) =>
    new HierarchicalKeyring({
      kms: deps.kms,
      secrets: deps.secrets,
      secretId: event.SecretId,
      versionStage,
      versionId,
      missReloadIntervalMs: 0,
    });
  const pendingRing = ring(AWSPENDING, event.ClientRequestToken);
  const currentRing = current.kind === 'keyset' ? ring(AWSCURRENT, current.versionId) : undefined;
  // For the self-test every key may wrap: the probes go under keys that are not (or no longer) active.
  const everyKeyActive = (ids: readonly string[]) =>
    new StaticKeyPolicy(ids.map((id) => ({ id, status: 'active' as const })));
  const ctx: EncryptionContext = {
    table: 'rekey_rotation_self_test',
    column: 'probe',
    rowId: event.ClientRequestToken,
  };
  try {
    const pendingIds = await selfTest('the pending keyset does not load', () => pendingRing.keyIds());
    const pendingCipher = new EnvelopeCipher({ keyring: pendingRing, policy: everyKeyActive(pendingIds) });
    for (const id of pendingIds) {
      await selfTest(`round trip through ${id} failed`, () =>
        roundTrip(async (probe) => {
          const sealed = await pendingCipher.encrypt(probe, ctx, { keyId: pending.primary });
          return pendingCipher.decrypt(
            id === pending.primary ? sealed : await pendingCipher.rewrap(sealed, ctx, id),
            ctx,
          );
        }),
      );
    }
    if (currentRing && current.kind === 'keyset') {
      const currentCipher = new EnvelopeCipher({
        keyring: currentRing,
        policy: everyKeyActive(current.keyset.keys.map((k) => k.id)),
      });
      // A destroyed key was left out on purpose: nothing under it is to open again.
      for (const key of current.keyset.keys.filter((k) => !destroyed.has(k.id))) {
        await selfTest(`a value sealed under AWSCURRENT's ${key.id} does not open with the pending keyset`, () =>
          roundTrip(async (probe) =>
            pendingCipher.decrypt(await currentCipher.encrypt(probe, ctx, { keyId: key.id }), ctx),
          ),
        );
      }
    }
    return {
      step,
      outcome: 'done',
      newKeyId: pending.primary,
      detail: `self-test passed: ${pendingIds.length} key(s) unwrap and round-trip under primary ${pending.primary}; ${current.kind === 'keyset' ? current.keyset.keys.filter((k) => !destroyed.has(k.id)).length : 0} current key(s) still open`,
    };
  } finally {
    await pendingRing.refresh();
    await currentRing?.refresh();
  }
}

/** Seals a random probe through `through` and checks the bytes come back. */
async function roundTrip(through: (probe: Buffer) => Promise<Buffer>): Promise<void> {
  const probe = randomBytes(32);
  let opened: Buffer | undefined;
  try {
    opened = await through(probe);
    if (opened.length !== probe.length || !timingSafeEqual(opened, probe))
      throw new RotationSelfTestError('the value came back different');
  } finally {
    probe.fill(0);
    opened?.fill(0);
  }
}

/**
 * Runs one check; a failure that waiting cannot fix (a KEK that does not
 * unwrap, a tag mismatch, an unknown key) becomes RotationSelfTestError
 * saying which check, while a retryable one (throttled KMS) passes through.
 */
async function selfTest<T>(what: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (isRetryable(err)) throw err;
    const reason =
      err instanceof RotationSelfTestError
        ? err.message
        : err instanceof RekeyError
          ? `${err.code}: ${err.message}`
          : err instanceof Error
            ? err.name
            : 'unknown error';
    throw new RotationSelfTestError(`testSecret: ${what} (${reason})`, { cause: err });
  }
}
