import { KeyServiceNotFoundError, KeyServiceRejectedError } from '../crypto/keyrings/key-service-errors';
import { parseKeyset, type Keyset } from '../crypto/keyrings/keyset';
import { AWSCURRENT, AWSPENDING } from '../ports/secrets';
import type { RotationDeps } from './deps';
import { RotationStateError } from './errors';
import type { RotationEvent } from './event';
import type { RotationState } from './secret-state';

/**
 * What the stack seeds the keyset secret with: a keyset needs a KEK wrapped
 * by KMS, which CloudFormation cannot make, so the first rotation (at
 * deployment) turns this document into the first keyset, kek-v1 primary.
 * lib/keyset-rotation.ts writes the same format name.
 */
export const KEYSET_BOOTSTRAP_FORMAT = 'rekey-keyset-bootstrap';

/** AWSCURRENT: a keyset, or the bootstrap document before the first rotation. */
export type CurrentKeyset =
  | { readonly kind: 'keyset'; readonly keyset: Keyset; readonly versionId: string }
  | { readonly kind: 'bootstrap'; readonly kmsKeyId: string; readonly versionId: string };

/** AWSCURRENT's keyset (always read by stage, pinned to the version DescribeSecret named). */
export async function readCurrentKeyset(deps: RotationDeps, event: RotationEvent, state: RotationState): Promise<CurrentKeyset> {
  const value = await deps.secrets.getSecretValue({
    secretId: event.SecretId,
    versionStage: AWSCURRENT,
    ...(state.currentVersionId !== undefined ? { versionId: state.currentVersionId } : {}),
  });
  const bootstrap = readBootstrap(value.string, state.secretName);
  if (bootstrap) return { kind: 'bootstrap', kmsKeyId: bootstrap.kmsKeyId, versionId: value.versionId };
  return { kind: 'keyset', keyset: parseKeyset(value.string, `${state.secretName} (AWSCURRENT)`), versionId: value.versionId };
}

/**
 * The keyset stored under the token's version, read with the stage it has
 * (AWSPENDING, or AWSCURRENT once promoted); undefined while the version has
 * no value yet (Secrets Manager staged it, createSecret has not stored it).
 * Any other failure (throttling, access) is thrown as it is.
 */
export async function findTokenKeyset(deps: RotationDeps, event: RotationEvent, state: RotationState): Promise<Keyset | undefined> {
  let stage = state.tokenIsCurrent ? AWSCURRENT : AWSPENDING;
  let text: string;
  try {
    text = (await deps.secrets.getSecretValue({ secretId: event.SecretId, versionStage: stage, versionId: event.ClientRequestToken })).string;
  } catch (err) {
    if (err instanceof KeyServiceNotFoundError) return undefined;
    // A finishSecret running at the same time promoted the version since the state was read: read it as AWSCURRENT.
    if (!(err instanceof KeyServiceRejectedError) || stage !== AWSPENDING) throw err;
    stage = AWSCURRENT;
    text = (await deps.secrets.getSecretValue({ secretId: event.SecretId, versionStage: stage, versionId: event.ClientRequestToken }).catch(() => Promise.reject(err as Error))).string;
  }
  return parseKeyset(text, `${state.secretName} (${stage} ${event.ClientRequestToken})`);
}

/** The token's keyset, which createSecret must have stored already. */
export async function requireTokenKeyset(deps: RotationDeps, event: RotationEvent, state: RotationState): Promise<Keyset> {
  const keyset = await findTokenKeyset(deps, event, state);
  if (!keyset) {
    throw new RotationStateError(
      `${event.Step}: secret version ${event.ClientRequestToken} of ${state.secretName} holds no keyset yet: createSecret has not completed for this rotation`,
    );
  }
  return keyset;
}

/** The bootstrap document's KMS key, or undefined when `text` is not a bootstrap document. */
function readBootstrap(text: string, secretName: string): { kmsKeyId: string } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined; // parseKeyset names the problem
  }
  if (typeof doc !== 'object' || doc === null || (doc as { format?: unknown }).format !== KEYSET_BOOTSTRAP_FORMAT) return undefined;
  const kmsKeyId = (doc as { kmsKeyId?: unknown }).kmsKeyId;
  if (typeof kmsKeyId !== 'string' || kmsKeyId.trim() === '') {
    throw new RotationStateError(`secret ${secretName} holds a ${KEYSET_BOOTSTRAP_FORMAT} document without a kmsKeyId: cannot create the first keyset`);
  }
  return { kmsKeyId };
}
