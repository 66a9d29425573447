import { randomBytes } from 'node:crypto';
import type { Keyset } from '../../../functions/core/crypto/keyrings/keyset';
import { RotationSelfTestError } from '../../../functions/core/rotation/errors';
import { assertKeepsEveryKey } from '../../../functions/core/rotation/keyset-checks';
import type { CurrentKeyset } from '../../../functions/core/rotation/keyset-versions';

const kmsKeyId = 'arn:aws:kms:us-east-1:123456789012:key/root';
const key = (id: string) => ({ id, wrapped: randomBytes(180), createdAt: '2026-01-01T00:00:00.000Z' });
const v1 = key('kek-v1');
const v2 = key('kek-v2');
const v3 = key('kek-v3');
const keyset = (primary: string, keys: Keyset['keys'], kms = kmsKeyId): Keyset => ({
  format: 'rekey-keyset',
  version: 1,
  kmsKeyId: kms,
  primary,
  keys,
});
const current: CurrentKeyset = { kind: 'keyset', keyset: keyset('kek-v2', [v1, v2]), versionId: 'v-current' };

describe('assertKeepsEveryKey', () => {
  it('accepts AWSCURRENT plus a new primary', () => {
    expect(() => assertKeepsEveryKey(current, keyset('kek-v3', [v1, v2, v3]), 'test')).not.toThrow();
  });

  it('accepts a first keyset under the bootstrap document’s KMS key', () => {
    expect(() =>
      assertKeepsEveryKey({ kind: 'bootstrap', kmsKeyId, versionId: 'b' }, keyset('kek-v1', [v1]), 'test'),
    ).not.toThrow();
    expect(() =>
      assertKeepsEveryKey(
        { kind: 'bootstrap', kmsKeyId, versionId: 'b' },
        keyset('kek-v1', [v1], 'alias/other'),
        'test',
      ),
    ).toThrow(/under KMS key alias\/other/);
  });

  it.each<[string, Keyset, RegExp]>([
    ['a lost key', keyset('kek-v3', [v2, v3]), /would lose kek-v1/],
    [
      'the same id with other material',
      keyset('kek-v3', [{ ...v1, wrapped: randomBytes(180) }, v2, v3]),
      /different key material for kek-v1/,
    ],
    ['no new primary', keyset('kek-v2', [v1, v2, v3]), /primary kek-v2 is not a new key/],
    ['another KMS key', keyset('kek-v3', [v1, v2, v3], 'alias/other'), /under KMS key alias\/other, AWSCURRENT under/],
  ])('refuses %s, naming it', (_what, pending, message) => {
    const error = (() => {
      try {
        assertKeepsEveryKey(current, pending, 'testSecret of keyset');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(RotationSelfTestError);
    expect((error as Error).message).toMatch(/^testSecret of keyset: the pending keyset cannot replace AWSCURRENT: /);
    expect((error as Error).message).toMatch(message);
    // Ids only: no wrapped bytes in the message.
    expect((error as Error).message).not.toContain(v1.wrapped.toString('base64').slice(0, 16));
  });

  it('accepts leaving out a key the catalog holds as destroyed, and only that one', () => {
    const withoutV1 = keyset('kek-v3', [v2, v3]);
    expect(() => assertKeepsEveryKey(current, withoutV1, 'test', new Set(['kek-v1']))).not.toThrow();
    expect(() => assertKeepsEveryKey(current, keyset('kek-v3', [v3]), 'test', new Set(['kek-v1']))).toThrow(
      /would lose kek-v2$/,
    );
  });

  it('lists every problem at once', () => {
    expect(() => assertKeepsEveryKey(current, keyset('kek-v2', [v2], 'alias/other'), 'x')).toThrow(
      /alias\/other.*; it would lose kek-v1; its primary kek-v2 is not a new key/,
    );
  });
});
