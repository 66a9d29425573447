import type { KeyCatalog } from '../keys/catalog';
import type { ExecutionStarter } from '../ports/executions';
import type { KmsPort } from '../ports/kms';
import type { Sql } from '../ports/sql';
import type { SecretsPort } from '../ports/secrets';
import type { RotationStep } from './event';

/** What the rotation steps work with; the handler builds it once per container. */
export interface RotationDeps {
  readonly secrets: SecretsPort;
  /** Wraps new KEKs (Encrypt) and unwraps the keysets for the self-test (Decrypt), under the keyset's own kmsKeyId. */
  readonly kms: KmsPort;
  /** The key catalog: setSecret registers the new key `pending`, finishSecret activates it. */
  readonly catalog: KeyCatalog;
  /** Starts the `rewrap` execution after finishSecret. */
  readonly executions: ExecutionStarter;
  /** The catalog's database: finishSecret records the rewrap it started in the audit log, once per rotation. */
  readonly sql: Sql;
  /**
   * Creates or upgrades rekey's tables before a step first touches the
   * catalog: the first rotation may run before anything else reached the database.
   * Must be idempotent (migrate is).
   */
  readonly ensureSchema?: () => Promise<void>;
  /**
   * The KMS key the keyset is wrapped under (the rotation function's KMS_KEY_ARN): the first
   * keyset is created under it, and a keyset under another key is refused.
   * @default - the key a version-1 bootstrap document names; no check on later keysets
   */
  readonly kmsKeyId?: string;
  /** Audit actor of catalog changes. @default 'rotation-hook' */
  readonly actor?: string;
  /**
   * The one secret this function rotates (ARN). An event for another secret
   * is refused, whatever invoked the function.
   * @default - any secret (the Lambda permission already limits the caller)
   */
  readonly expectedSecretArn?: string;
  /**
   * finishSecret: pauses before retrying a retryable failure after the
   * promotion (activating the key, starting the rewrap) within the call.
   * @default AFTER_PROMOTION_RETRY_DELAYS_MS (0.5, 1.5, 3 and 4 s)
   */
  readonly retryDelaysMs?: readonly number[];
  /** Clock for the rotation duration. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * Two-phase rotation (docs/readers.md): createSecret adds the new KEK
   * decrypt-only (the keyset's primary unchanged) and finishSecret only
   * publishes it; `promoteKeysetKey` makes it primary once every live reader
   * reports it. @default false (the new KEK is primary at once)
   */
  readonly twoPhase?: boolean;
}

/** What a step did, in ids and counts (it is logged). */
export interface StepResult {
  readonly step: RotationStep;
  /** `done`: this call changed something; `already-done`: a re-run that found its work done. */
  readonly outcome: 'done' | 'already-done';
  readonly detail: string;
  /** The key this rotation makes primary, once known. */
  readonly newKeyId?: string;
  /** finishSecret: whether this call made the new key active (a re-run that only caught up on the rewrap did not). */
  readonly promoted?: boolean;
  /** finishSecret: milliseconds from createSecret (the new key's createdAt) to promotion. */
  readonly rotationDurationMs?: number;
  /** finishSecret: the rewrap execution, when this call started it. */
  readonly executionArn?: string;
}

export const DEFAULT_ROTATION_ACTOR = 'rotation-hook';
