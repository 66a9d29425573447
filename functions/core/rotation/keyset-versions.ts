import { KeyServiceNotFoundError, KeyServiceRejectedError } from '../crypto/keyrings/key-service-errors';
import type { Keyset } from '../crypto/keyrings/keyset';
import { parseKeyset } from '../crypto/keyrings/keyset-document';
import { AWSCURRENT, AWSPENDING } from '../ports/secrets';
import type { RotationDeps } from './deps';
import { RotationStateError } from './errors';
import type { RotationEvent } from './event';
import type { RotationState } from './secret-state';

/**
 * What the stack seeds the keyset secret with: a keyset needs a KEK wrapped
 * by KMS, which CloudFormation cannot make, so the first rotation turns this
 * document into the first keyset, kek-v1 primary. lib/keyset-rotation.ts
 * writes the same format name. Version 2 (the stack's) is a constant
 * `{format, version: 2}`: the KMS key comes from the rotation function's
 * environment (RotationDeps.kmsKeyId), so no deployment ever changes the
 * secret's value. Version 1 named its own `kmsKeyId` and is still read.
 */
export const KEYSET_BOOTSTRAP_FORMAT = 'rekey-keyset-bootstrap';

/** True when `text` is the bootstrap document the stack deploys (no keyset yet: the first rotation has not run). */
export function isBootstrapDocument(text: string): boolean {
  try {
    return (JSON.parse(text) as { format?: unknown } | null)?.format === KEYSET_BOOTSTRAP_FORMAT;
  } catch {
    return false;
  }
}

/** AWSCURRENT: a keyset, or the bootstrap document before the first rotation. */
export type CurrentKeyset =
  | { readonly kind: 'keyset'; readonly keyset: Keyset; readonly versionId: string }
  | { readonly kind: 'bootstrap'; readonly kmsKeyId: string; readonly versionId: string };

/** AWSCURRENT's keyset (always read by stage, pinned to the version DescribeSecret named). */
export async function readCurrentKeyset(
  deps: RotationDeps,
  event: RotationEvent,
  state: RotationState,
): Promise<CurrentKeyset> {
  const value = await deps.secrets.getSecretValue({
    secretId: event.SecretId,
    versionStage: AWSCURRENT,
    ...(state.currentVersionId !== undefined ? { versionId: state.currentVersionId } : {}),
  });
  const bootstrap = readBootstrap(value.string, state.secretName, deps.kmsKeyId);
  if (bootstrap) return { kind: 'bootstrap', kmsKeyId: bootstrap.kmsKeyId, versionId: value.versionId };
  const keyset = parseKeyset(value.string, `${state.secretName} (AWSCURRENT)`);
  if (deps.kmsKeyId !== undefined && keyset.kmsKeyId !== deps.kmsKeyId) {
    // Wrapping the next KEK under another key would leave a keyset no single key opens.
    throw new RotationStateError(
      `secret ${state.secretName}: its keyset wraps its KEKs under KMS key ${keyset.kmsKeyId}, but this function is configured with ${deps.kmsKeyId}: the stack's KMS key changed after the first rotation (refused; see docs/deploy.md "Changing the KMS key")`,
    );
  }
  return { kind: 'keyset', keyset, versionId: value.versionId };
}

/**
 * The keyset stored under the token's version, read with the stage it has
 * (AWSPENDING, or AWSCURRENT once promoted); undefined while the version has
 * no value yet (Secrets Manager staged it, createSecret has not stored it).
 * Any other failure (throttling, access) is thrown as it is.
 */
export async function findTokenKeyset(
  deps: RotationDeps,
  event: RotationEvent,
  state: RotationState,
): Promise<Keyset | undefined> {
  let stage = state.tokenIsCurrent ? AWSCURRENT : AWSPENDING;
  let text: string;
  try {
    text = (
      await deps.secrets.getSecretValue({
        secretId: event.SecretId,
        versionStage: stage,
        versionId: event.ClientRequestToken,
      })
    ).string;
  } catch (err) {
    if (err instanceof KeyServiceNotFoundError) return undefined;
    // A finishSecret running at the same time promoted the version since the state was read: read it as AWSCURRENT.
    if (!(err instanceof KeyServiceRejectedError) || stage !== AWSPENDING) throw err;
    stage = AWSCURRENT;
    text = (
      await deps.secrets
        .getSecretValue({ secretId: event.SecretId, versionStage: stage, versionId: event.ClientRequestToken })
        .catch(() => Promise.reject(err as Error))
    ).string;
  }
  return parseKeyset(text, `${state.secretName} (${stage} ${event.ClientRequestToken})`);
}

/** The token's keyset, which createSecret must have stored already. */
export async function requireTokenKeyset(
  deps: RotationDeps,
  event: RotationEvent,
  state: RotationState,
): Promise<Keyset> {
  const keyset = await findTokenKeyset(deps, event, state);
  if (!keyset) {
    throw new RotationStateError(
      `${event.Step}: secret version ${event.ClientRequestToken} of ${state.secretName} holds no keyset yet: createSecret has not completed for this rotation`,
    );
  }
  return keyset;
}

/**
 * The KMS key the first keyset is wrapped under, or undefined when `text` is
 * not a bootstrap document: the function's configured key (version 2), or the
 * key a version-1 document names, which must then be the configured one.
 */
function readBootstrap(
  text: string,
  secretName: string,
  configuredKmsKeyId: string | undefined,
): { kmsKeyId: string } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined; // parseKeyset names the problem
  }
  if (typeof doc !== 'object' || doc === null || (doc as { format?: unknown }).format !== KEYSET_BOOTSTRAP_FORMAT)
    return undefined;
  const named = (doc as { kmsKeyId?: unknown }).kmsKeyId;
  if (named !== undefined && (typeof named !== 'string' || named.trim() === '')) {
    throw new RotationStateError(
      `secret ${secretName} holds a ${KEYSET_BOOTSTRAP_FORMAT} document whose kmsKeyId is not a key id`,
    );
  }
  if (typeof named === 'string' && configuredKmsKeyId !== undefined && named !== configuredKmsKeyId) {
    throw new RotationStateError(
      `secret ${secretName}: its ${KEYSET_BOOTSTRAP_FORMAT} document names KMS key ${named}, this function is configured with ${configuredKmsKeyId}`,
    );
  }
  const kmsKeyId = configuredKmsKeyId ?? (named as string | undefined);
  if (kmsKeyId === undefined) {
    throw new RotationStateError(
      `secret ${secretName} holds a ${KEYSET_BOOTSTRAP_FORMAT} document and no KMS key is configured (KMS_KEY_ARN): cannot create the first keyset`,
    );
  }
  return { kmsKeyId };
}
