import { KeyMaterialError } from '../core/crypto/errors';
import type { Keyring, KeyringKind } from '../core/crypto/keyring';
import { HierarchicalKeyring } from '../core/crypto/keyrings/hierarchical';
import { KmsKeyring } from '../core/crypto/keyrings/kms';
import { RawKeyring } from '../core/crypto/keyrings/raw';
import { RUNTIME_ENV } from '../core/environment-names';
import { awsPorts } from './aws-ports';

export interface KeyringChoice {
  /** @default 'raw' (keys from SECRETS_ENCRYPTION_KEY / _PREVIOUS) */
  readonly kind?: KeyringKind;
  /** hierarchical: the keyset secret's name or ARN (else REKEY_KEYSET_SECRET_ARN). */
  readonly keysetSecretId?: string;
  /** AWS endpoint override (tests, moto). Else AWS_ENDPOINT_URL as the SDK reads it. */
  readonly awsEndpoint?: string;
}

/**
 * The keyring the CLI, the demo and the Lambda functions use, from flags and
 * the environment:
 * - raw: SECRETS_ENCRYPTION_KEY(=primary) / SECRETS_ENCRYPTION_KEYS / SECRETS_ENCRYPTION_KEY_PREVIOUS;
 * - hierarchical: REKEY_KEYSET_SECRET_ARN (the KMS-wrapped keyset in Secrets Manager);
 * - kms: REKEY_KMS_KEYS=`kms-v2=arn:…,kms-v1=arn:…` (primary first).
 */
export function keyringFromEnv(env: NodeJS.ProcessEnv, choice: KeyringChoice = {}): Keyring {
  const kind = choice.kind ?? (env[RUNTIME_ENV.keyring] as KeyringKind | undefined) ?? 'raw';
  // Its own clients: the keyring's KMS call counts (stats()) are this keyring's alone.
  const aws = awsPorts(choice.awsEndpoint ? { endpoint: choice.awsEndpoint } : {});
  switch (kind) {
    case 'raw':
      return RawKeyring.fromEnv(env);
    case 'hierarchical': {
      const secretId = choice.keysetSecretId ?? env[RUNTIME_ENV.cliKeysetSecretArn];
      if (!secretId)
        throw new KeyMaterialError(
          'the hierarchical keyring needs the keyset secret: --keyset-secret ARN or REKEY_KEYSET_SECRET_ARN',
        );
      return new HierarchicalKeyring({
        kms: aws.kms(),
        secrets: aws.secrets(),
        secretId,
      });
    }
    case 'kms': {
      const spec = env[RUNTIME_ENV.kmsKeys]?.trim();
      if (!spec)
        throw new KeyMaterialError(
          'the kms keyring needs REKEY_KMS_KEYS=<id>=<kms key arn or alias>,… (primary first)',
        );
      const keys = spec.split(',').map((entry, i) => {
        const eq = entry.indexOf('=');
        if (eq <= 0) throw new KeyMaterialError(`REKEY_KMS_KEYS[${i + 1}] must be <id>=<kms key arn or alias>`);
        return { id: entry.slice(0, eq).trim(), kmsKeyId: entry.slice(eq + 1).trim() };
      });
      return new KmsKeyring({ kms: aws.kms(), keys, primary: keys[0]!.id });
    }
    default:
      throw new KeyMaterialError(`unknown keyring ${JSON.stringify(kind)}: use raw, hierarchical or kms`);
  }
}
