import { parseKeyset } from '../crypto/keyrings/keyset-document';
import {
  AWSCURRENT,
  AWSPENDING,
  type SecretDescription,
  type SecretRotationStarter,
  type SecretsPort,
} from '../ports/secrets';
import { RotationStateError } from './errors';
import { isBootstrapDocument } from './keyset-versions';

/**
 * Starts a rotation of the keyset secret and follows it to the end, the
 * operator's side of docs/deploy.md step 2: RotateSecret only says a
 * rotation started; whether it finished shows in the version stages a
 * minute later. This polls DescribeSecret until the new version carries
 * AWSCURRENT (done), loses AWSPENDING without it (abandoned), or the wait
 * runs out (still pending: running, or failed and waiting for a retry).
 * Nothing here reads a KEK: the outcome names key ids only.
 */
export interface StartRotationDeps {
  readonly secrets: Pick<SecretsPort, 'describeSecret' | 'getSecretValue'> & SecretRotationStarter;
  /** A fresh idempotency token for the new version. */
  readonly newToken: () => string;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

export interface StartRotationOptions {
  readonly secretId: string;
  /** How long to follow the rotation; 0 starts it and returns at once. */
  readonly waitMs: number;
  /** Pause between two DescribeSecret calls. @default 5000 */
  readonly pollMs?: number;
  /** Called after each poll that found the rotation still pending. */
  readonly onPending?: (waitedMs: number) => void;
}

/** The keyset AWSCURRENT holds after the rotation: key ids only. */
export interface KeysetSummary {
  readonly primary: string;
  readonly keyIds: readonly string[];
}

export type RotationOutcome =
  | { readonly status: 'started'; readonly versionId: string }
  | { readonly status: 'current'; readonly versionId: string; readonly keyset: KeysetSummary }
  | { readonly status: 'pending'; readonly versionId: string; readonly waitedMs: number }
  | { readonly status: 'abandoned'; readonly versionId: string; readonly stages: readonly string[] };

/** The secret has no rotation function: RotateSecret would be refused, or would rotate with nothing. */
export class RotationNotConfiguredError extends RotationStateError {
  override readonly code = 'ROTATION_NOT_CONFIGURED';
}

/** A version is still AWSPENDING apart from AWSCURRENT: Secrets Manager refuses a new rotation until it is cleared. */
export class RotationInProgressError extends RotationStateError {
  override readonly code = 'ROTATION_IN_PROGRESS';

  constructor(
    readonly secretId: string,
    readonly pendingVersionId: string,
  ) {
    super(
      `a previous rotation of ${secretId} has not finished: version ${pendingVersionId} is still ${AWSPENDING} ` +
        `and not ${AWSCURRENT}, and Secrets Manager refuses a new rotation until it is. If it is still running, wait ` +
        `a minute and run this again. If it failed (the RotationHookErrors alarm, the rotation function's log ` +
        `group), fix the cause, then clear it: aws secretsmanager update-secret-version-stage --secret-id ` +
        `${secretId} --version-stage ${AWSPENDING} --remove-from-version-id ${pendingVersionId}`,
    );
  }
}

const DEFAULT_POLL_MS = 5_000;

export async function startKeysetRotation(
  deps: StartRotationDeps,
  options: StartRotationOptions,
): Promise<RotationOutcome> {
  const { secretId } = options;
  refuseUnlessReady(await deps.secrets.describeSecret({ secretId }), secretId);
  const { versionId } = await deps.secrets.rotateSecret({ secretId, clientRequestToken: deps.newToken() });
  if (options.waitMs <= 0) return { status: 'started', versionId };

  const started = deps.now();
  for (;;) {
    await deps.sleep(options.pollMs ?? DEFAULT_POLL_MS);
    const stages = (await deps.secrets.describeSecret({ secretId })).versionIdsToStages[versionId] ?? [];
    if (stages.includes(AWSCURRENT)) {
      return { status: 'current', versionId, keyset: await currentKeysetSummary(deps, secretId) };
    }
    if (!stages.includes(AWSPENDING)) return { status: 'abandoned', versionId, stages };
    const waitedMs = deps.now() - started;
    if (waitedMs >= options.waitMs) return { status: 'pending', versionId, waitedMs };
    options.onPending?.(waitedMs);
  }
}

/** Rotation configured, and no earlier rotation left half-way (AWSPENDING on a version that is not AWSCURRENT). */
function refuseUnlessReady(description: SecretDescription, secretId: string): void {
  if (!description.rotationEnabled) {
    throw new RotationNotConfiguredError(
      `${secretId} has no rotation configured: deploy the rekey stack (its KeysetRotation construct attaches the ` +
        'rotation function), then run this again',
    );
  }
  const pending = Object.entries(description.versionIdsToStages).find(
    ([, stages]) => stages.includes(AWSPENDING) && !stages.includes(AWSCURRENT),
  );
  if (pending) throw new RotationInProgressError(secretId, pending[0]);
}

async function currentKeysetSummary(deps: StartRotationDeps, secretId: string): Promise<KeysetSummary> {
  const document = (await deps.secrets.getSecretValue({ secretId, versionStage: AWSCURRENT })).string;
  if (isBootstrapDocument(document)) {
    throw new RotationStateError(
      `${secretId}: the rotation finished but ${AWSCURRENT} still holds the bootstrap document, not a keyset`,
    );
  }
  const keyset = parseKeyset(document);
  return { primary: keyset.primary, keyIds: keyset.keys.map((k) => k.id) };
}
