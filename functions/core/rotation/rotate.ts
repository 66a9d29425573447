import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EnvelopeCipher } from '../crypto/envelope-cipher';
import { HierarchicalKeyring } from '../crypto/keyrings/hierarchical';
import { addKeyVersion, createKeyset, generateWrappedKek, nextKeyId, parseKeyset, serializeKeyset, type Keyset } from '../crypto/keyrings/keyset';
import type { KeyCatalog } from '../keys/catalog';
import { StaticKeyPolicy } from '../keys/policy';
import type { ExecutionStarter } from '../ports/executions';
import type { KmsPort } from '../ports/kms';
import { AWSCURRENT, AWSPENDING, type SecretsPort } from '../ports/secrets';
import { RotationSelfTestError, RotationStateError } from './errors';

/** The format the stack seeds the keyset secret with, before its first rotation creates kek-v1. */
export const KEYSET_BOOTSTRAP_FORMAT = 'rekey-keyset-bootstrap';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

export interface RotationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
}

export interface RotationDeps {
  readonly secrets: SecretsPort;
  readonly kms: KmsPort;
  /** The key catalog (setSecret registers the new key pending; finishSecret activates it). */
  readonly catalog: KeyCatalog;
  /** Starts the rewrap after finishSecret. */
  readonly executions: ExecutionStarter;
  /** Runs before setSecret touches the catalog: the first rotation (at deploy) also creates rekey's tables. */
  readonly ensureSchema?: () => Promise<void>;
  readonly actor?: string;
  /** Refuse secrets without rotation enabled, as AWS's rotation templates do. @default true */
  readonly requireRotationEnabled?: boolean;
}

/**
 * Secrets Manager rotation of the keyset secret, one function per step, each
 * safe to run again (Secrets Manager may call a step more than once):
 * - createSecret: AWSCURRENT's keyset plus a new primary kek-vN+1 → AWSPENDING (token);
 * - setSecret: the new key in the catalog as `pending`;
 * - testSecret: the pending keyset holds every current key, every KEK unwraps,
 *   and a value round-trips under the new primary;
 * - finishSecret: AWSCURRENT → the token's version; catalog: new key active,
 *   previous active → rotating; a rewrap execution started (once per token).
 */
export async function rotateKeysetSecret(deps: RotationDeps, event: RotationEvent): Promise<{ step: RotationStep; detail: string }> {
  validateEvent(event);
  const description = await deps.secrets.describeSecret({ secretId: event.SecretId });
  if ((deps.requireRotationEnabled ?? true) && !description.rotationEnabled) {
    throw new RotationStateError(`secret ${description.name} does not have rotation enabled`);
  }
  // Secrets Manager stages the token's version AWSPENDING before calling createSecret; a createSecret
  // started by hand (or by a test double that cannot stage an empty version) may find no version yet.
  const stages = description.versionIdsToStages[event.ClientRequestToken] ?? (event.Step === 'createSecret' ? [AWSPENDING] : undefined);
  if (!stages) throw new RotationStateError(`secret version ${event.ClientRequestToken} has no stage: it is not a rotation of ${description.name}`);
  if (stages.includes(AWSCURRENT) && event.Step !== 'finishSecret') {
    return { step: event.Step, detail: 'the version is already AWSCURRENT: nothing to do' };
  }
  if (!stages.includes(AWSPENDING) && !stages.includes(AWSCURRENT)) {
    throw new RotationStateError(`secret version ${event.ClientRequestToken} is not staged AWSPENDING`);
  }
  switch (event.Step) {
    case 'createSecret':
      return { step: event.Step, detail: await createSecret(deps, event) };
    case 'setSecret':
      return { step: event.Step, detail: await setSecret(deps, event) };
    case 'testSecret':
      return { step: event.Step, detail: await testSecret(deps, event) };
    case 'finishSecret':
      return { step: event.Step, detail: await finishSecret(deps, event, description.versionIdsToStages) };
  }
}

export function validateEvent(event: unknown): asserts event is RotationEvent {
  const e = (event ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (!ROTATION_STEPS.includes(e.Step as RotationStep)) problems.push(`Step must be one of ${ROTATION_STEPS.join(', ')}, got ${JSON.stringify(e.Step)}`);
  if (typeof e.SecretId !== 'string' || e.SecretId.length === 0) problems.push('SecretId is required');
  if (typeof e.ClientRequestToken !== 'string' || e.ClientRequestToken.length < 32) problems.push('ClientRequestToken must be the rotation token (32–64 characters)');
  if (problems.length > 0) throw new RotationStateError(`invalid rotation event: ${problems.join('; ')}`);
}

async function createSecret(deps: RotationDeps, event: RotationEvent): Promise<string> {
  const existing = await pending(deps, event).catch(() => undefined);
  if (existing) return `AWSPENDING already holds ${existing.primary}`;
  const current = await deps.secrets.getSecretValue({ secretId: event.SecretId, versionStage: AWSCURRENT });
  const bootstrap = readBootstrap(current.string);
  let next: Keyset;
  if (bootstrap) {
    next = await createKeyset(deps.kms, bootstrap.kmsKeyId);
  } else {
    const keyset = parseKeyset(current.string, `${event.SecretId} (AWSCURRENT)`);
    const id = nextKeyId(keyset);
    next = addKeyVersion(keyset, await generateWrappedKek(deps.kms, keyset.kmsKeyId, id), { makePrimary: true });
  }
  // A stale AWSPENDING from an earlier failed rotation moves to this version: Secrets Manager keeps one AWSPENDING.
  await deps.secrets.putSecretValue({
    secretId: event.SecretId,
    clientRequestToken: event.ClientRequestToken,
    string: serializeKeyset(next),
    versionStages: [AWSPENDING],
  });
  return `AWSPENDING holds ${next.keys.length} key(s), new primary ${next.primary}`;
}

async function setSecret(deps: RotationDeps, event: RotationEvent): Promise<string> {
  const keyset = await pending(deps, event);
  await deps.ensureSchema?.();
  const actor = deps.actor ?? 'rotation-hook';
  for (const key of keyset.keys) {
    const known = await deps.catalog.get(key.id);
    if (key.id === keyset.primary) {
      if (!known) await deps.catalog.add({ id: key.id, keyring: 'hierarchical', kmsKeyArn: keyset.kmsKeyId }, actor);
      else if (known.status !== 'pending' && known.status !== 'active') {
        throw new RotationStateError(`the new key ${key.id} is ${known.status} in the catalog: it cannot become primary again through a rotation`);
      }
    } else if (!known) {
      // A key the catalog never saw (a keyset adopted from elsewhere): it decrypts, and the rewrap moves its rows.
      await deps.catalog.add({ id: key.id, keyring: 'hierarchical', kmsKeyArn: keyset.kmsKeyId, status: 'rotating' }, actor);
    }
  }
  return `catalog holds ${keyset.primary} as ${(await deps.catalog.require(keyset.primary)).status}`;
}

async function testSecret(deps: RotationDeps, event: RotationEvent): Promise<string> {
  const next = await pending(deps, event);
  const current = await deps.secrets.getSecretValue({ secretId: event.SecretId, versionStage: AWSCURRENT });
  if (!readBootstrap(current.string)) {
    const now = parseKeyset(current.string, `${event.SecretId} (AWSCURRENT)`);
    const lost = now.keys.map((k) => k.id).filter((id) => !next.keys.some((k) => k.id === id));
    if (lost.length > 0) throw new RotationSelfTestError(`the pending keyset would lose ${lost.join(', ')}: refusing to promote it`);
  }
  const keyring = new HierarchicalKeyring({
    kms: deps.kms,
    secrets: deps.secrets,
    secretId: event.SecretId,
    versionStage: AWSPENDING,
    versionId: event.ClientRequestToken,
    missReloadIntervalMs: 0,
  });
  const ids = await keyring.keyIds();
  // The self-test wraps under every key of the pending keyset, so for it each one may encrypt.
  const policy = new StaticKeyPolicy(ids.map((id) => ({ id, status: 'active' as const })));
  const cipher = new EnvelopeCipher({ keyring, policy });
  const ctx = { table: 'rekey_rotation_self_test', column: 'probe', rowId: event.ClientRequestToken };
  for (const id of ids) {
    // Every KEK must unwrap and wrap: a value sealed under the primary is rewrapped to each key and back.
    const probe = randomBytes(32);
    const sealed = await cipher.encrypt(probe, ctx, { keyId: next.primary });
    const moved = id === next.primary ? sealed : await cipher.rewrap(sealed, ctx, id);
    const opened = await cipher.decrypt(moved, ctx);
    if (!timingSafeEqual(opened, probe)) throw new RotationSelfTestError(`round trip through ${id} returned different bytes`);
    opened.fill(0);
    probe.fill(0);
  }
  return `self-test passed for ${ids.length} key(s) under primary ${next.primary}`;
}

async function finishSecret(deps: RotationDeps, event: RotationEvent, stages: Readonly<Record<string, readonly string[]>>): Promise<string> {
  const currentVersion = Object.entries(stages).find(([, s]) => s.includes(AWSCURRENT))?.[0];
  const next = await pendingOrCurrent(deps, event);
  if (currentVersion !== event.ClientRequestToken) {
    await deps.secrets.updateSecretVersionStage({
      secretId: event.SecretId,
      versionStage: AWSCURRENT,
      moveToVersionId: event.ClientRequestToken,
      ...(currentVersion ? { removeFromVersionId: currentVersion } : {}),
    });
  }
  const actor = deps.actor ?? 'rotation-hook';
  await deps.ensureSchema?.();
  const previous = (await deps.catalog.active(null))?.id;
  await deps.catalog.activate(next.primary, actor);
  const others = next.keys.filter((k) => k.id !== next.primary);
  if (others.length === 0) return `${next.primary} is AWSCURRENT and active (first key: nothing to rewrap)`;
  const started = await deps.executions.startRewrap({ targetKeyId: next.primary, reason: `keyset rotation ${event.ClientRequestToken}`, clientToken: event.ClientRequestToken });
  return `${next.primary} is AWSCURRENT and active${previous && previous !== next.primary ? `, ${previous} rotating` : ''}; rewrap ${started.started ? 'started' : 'already started'}`;
}

async function pending(deps: RotationDeps, event: RotationEvent): Promise<Keyset> {
  const value = await deps.secrets.getSecretValue({ secretId: event.SecretId, versionStage: AWSPENDING, versionId: event.ClientRequestToken });
  return parseKeyset(value.string, `${event.SecretId} (AWSPENDING ${event.ClientRequestToken})`);
}

async function pendingOrCurrent(deps: RotationDeps, event: RotationEvent): Promise<Keyset> {
  try {
    return await pending(deps, event);
  } catch {
    const value = await deps.secrets.getSecretValue({ secretId: event.SecretId, versionStage: AWSCURRENT, versionId: event.ClientRequestToken });
    return parseKeyset(value.string, `${event.SecretId} (AWSCURRENT ${event.ClientRequestToken})`);
  }
}

function readBootstrap(text: string): { kmsKeyId: string } | undefined {
  try {
    const doc = JSON.parse(text) as { format?: unknown; kmsKeyId?: unknown };
    if (doc.format === KEYSET_BOOTSTRAP_FORMAT && typeof doc.kmsKeyId === 'string') return { kmsKeyId: doc.kmsKeyId };
  } catch {
    /* a keyset, or garbage that parseKeyset will describe */
  }
  return undefined;
}
