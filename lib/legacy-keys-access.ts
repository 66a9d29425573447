import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ENV } from './environment';
import { ARN_PATTERNS, type PropsProblems } from './errors';
import { kmsStatement, secretStatement } from './iam';
import type { EncryptedColumnRegistry } from './registry';
import { tableKey } from '../functions/core/reencrypt/config/registry';

/**
 * Where the functions find the keys of the tables kept in an application's
 * own format (`"format": "fernet"`): a Secrets Manager secret whose
 * SecretString is JSON with the application's variables (ENCRYPTION_KEY,
 * ENCRYPTION_KEY_FALLBACK, SECRETS_ENCRYPTION_KEY,
 * SECRETS_ENCRYPTION_KEY_PREVIOUS). The functions read it once per container
 * (functions/runtime/legacy-keys.ts); only its ARN travels in the function
 * configuration, never a key.
 */
export interface LegacyKeysSecret {
  /** The secret's complete ARN (with its 6-character suffix). */
  readonly secretArn: string;
  /**
   * The customer managed KMS key encrypting the secret, if any.
   * @default - the AWS managed key (no kms:Decrypt grant needed)
   */
  readonly secretKeyArn?: string;
}

/** Checks the secret's ARNs and that every table in a legacy format has one; adds one problem per wrong prop. */
export function checkLegacyKeysProps(
  problems: PropsProblems,
  registry: EncryptedColumnRegistry | undefined,
  secret: LegacyKeysSecret | undefined,
  names: { readonly secretArn: string; readonly secretKeyArn: string } = {
    secretArn: 'legacyKeysSecret.secretArn',
    secretKeyArn: 'legacyKeysSecret.secretKeyArn',
  },
): void {
  const prop = names.secretArn;
  if (secret) {
    problems.pattern(
      names.secretArn,
      secret.secretArn,
      ARN_PATTERNS.secret,
      'a complete Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)',
    );
    problems.pattern(
      names.secretKeyArn,
      secret.secretKeyArn,
      ARN_PATTERNS.kmsKey,
      'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
    );
  }
  const tables = Array.isArray(registry?.tables) ? registry.tables : [];
  const fernet = tables.filter((t) => typeof t === 'object' && t !== null && t.format === 'fernet');
  if (fernet.length > 0 && !secret) {
    problems.add(
      prop,
      `required: ${fernet.map((t) => tableKey(t)).join(', ')} ${fernet.length === 1 ? 'has' : 'have'} format "fernet", whose keys the functions read from a ` +
        'legacy keys secret (JSON with ENCRYPTION_KEY, ENCRYPTION_KEY_FALLBACK: docs/deploy.md "Tables in Fernet or JSON key_id format"); without it every row of those tables would fail',
    );
  }
  const json = tables.filter((t) => typeof t === 'object' && t !== null && t.format === 'json-key-id');
  if (json.length > 0) {
    problems.add(
      'registry',
      `${json.map((t) => tableKey(t)).join(', ')} ${json.length === 1 ? 'has' : 'have'} format "json-key-id", which the stack cannot rotate yet: ` +
        "on AWS the keyring is the keyset (or KMS), whose kek-vN ids are not the application's SECRETS_ENCRYPTION_KEY ids, so a job would target " +
        'the wrong key. Rotate JSON key_id tables with the CLI and the raw keyring (docs/legacy-formats.md), or migrate them to rk1',
    );
  }
}

export function legacyKeysEnvironment(secret: LegacyKeysSecret | undefined): Record<string, string> {
  return secret ? { [ENV.legacyKeysSecretArn]: secret.secretArn } : {};
}

/** Read access to exactly that secret (and Decrypt on its customer managed key, through Secrets Manager only). */
export function legacyKeysStatements(scope: Construct, secret: LegacyKeysSecret | undefined): PolicyStatement[] {
  if (!secret) return [];
  const statements = [secretStatement(secret.secretArn, ['secretsmanager:GetSecretValue'])];
  if (secret.secretKeyArn) {
    const id = 'LegacyKeysSecretKey';
    const key =
      (scope.node.tryFindChild(id) as ReturnType<typeof Key.fromKeyArn> | undefined) ??
      Key.fromKeyArn(scope, id, secret.secretKeyArn);
    statements.push(kmsStatement(key, ['kms:Decrypt'], { viaService: 'secretsmanager' }));
  }
  return statements;
}
