import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { ENV } from './environment';
import { kmsStatement, secretStatement } from './iam';

/**
 * Which keyring the functions use on AWS, and what it needs. The raw keyring
 * is not offered here: it takes KEKs from environment variables, which on
 * Lambda would put key material in the function configuration and the
 * CloudFormation template (see RekeyStack).
 */
export type KeyringAccess =
  /** KEKs in a Secrets Manager keyset, each wrapped by the KMS key: one GetSecretValue + one Decrypt per KEK per container. */
  | { readonly kind: 'hierarchical'; readonly keysetSecret: ISecret }
  /** A data key per value from KMS; rewrap by ReEncrypt (the plaintext data key never leaves KMS). */
  | { readonly kind: 'kms' };

export function keyringEnvironment(key: IKey, keyring: KeyringAccess): Record<string, string> {
  return {
    [ENV.keyringKind]: keyring.kind,
    [ENV.kmsKeyArn]: key.keyArn,
    ...(keyring.kind === 'hierarchical' ? { [ENV.keysetSecretArn]: keyring.keysetSecret.secretArn } : {}),
  };
}

/** What a function that encrypts, decrypts or rewraps values needs. */
export function keyringStatements(key: IKey, keyring: KeyringAccess): PolicyStatement[] {
  if (keyring.kind === 'hierarchical') {
    return [
      secretStatement(keyring.keysetSecret.secretArn, ['secretsmanager:GetSecretValue']),
      // Unwraps each KEK (and Secrets Manager decrypts the keyset secret itself with the same key).
      kmsStatement(key, ['kms:Decrypt']),
    ];
  }
  return [
    kmsStatement(key, [
      'kms:GenerateDataKey',
      'kms:Decrypt',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
      'kms:DescribeKey',
    ]),
  ];
}
