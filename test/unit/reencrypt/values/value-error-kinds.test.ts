import {
  AuthenticationError,
  KeyDestroyedError,
  KeyNotActiveError,
  UnknownKeyError,
} from '../../../../functions/core/crypto/errors';
import { ROW_ERROR } from '../../../../functions/core/reencrypt/values/transforms';
import { countValueErrors, valueErrorKind } from '../../../../functions/core/reencrypt/values/value-error-kinds';

describe('value error kinds', () => {
  it('reads failures of stored values as decryption errors', () => {
    for (const code of [
      'AUTHENTICATION_FAILED',
      'ENVELOPE_FORMAT',
      'ENVELOPE_VERSION',
      'UNKNOWN_KEY',
      'KEY_DESTROYED',
      'INVALID_CONTEXT',
      'LEGACY_FORMAT',
      'KEY_MATERIAL',
    ]) {
      expect([code, valueErrorKind(code, 'rewrap')]).toEqual([code, 'decryption']);
    }
  });

  it('reads failures to write under the target as encryption errors', () => {
    for (const code of ['KEY_NOT_ACTIVE', 'INVALID_PLAINTEXT', 'PLAINTEXT_NOT_UTF8', 'NO_BLIND_INDEXER']) {
      expect([code, valueErrorKind(code, 'encrypt')]).toEqual([code, 'encryption']);
    }
  });

  it('counts an oversized value by what the mode does with it', () => {
    expect(valueErrorKind('VALUE_TOO_LARGE', 'encrypt')).toBe('encryption');
    expect(valueErrorKind('VALUE_TOO_LARGE', 'reencrypt')).toBe('decryption');
  });

  it('leaves values the mode cannot handle out of both', () => {
    for (const code of Object.values(ROW_ERROR)) expect(valueErrorKind(code, 'rewrap')).toBe('other');
  });

  it('uses the codes the crypto errors really carry', () => {
    expect(valueErrorKind(new AuthenticationError('ciphertext').code, 'rewrap')).toBe('decryption');
    expect(valueErrorKind(new UnknownKeyError('kek-v0').code, 'rewrap')).toBe('decryption');
    expect(valueErrorKind(new KeyDestroyedError('kek-v0').code, 'rewrap')).toBe('decryption');
    expect(valueErrorKind(new KeyNotActiveError('kek-v9', 'retired').code, 'rewrap')).toBe('encryption');
  });

  it('counts per value', () => {
    expect(
      countValueErrors(
        [
          { code: 'AUTHENTICATION_FAILED' },
          { code: 'UNKNOWN_KEY' },
          { code: 'KEY_NOT_ACTIVE' },
          { code: ROW_ERROR.legacyValue },
        ],
        'rewrap',
      ),
    ).toEqual({
      decryption: 2,
      encryption: 1,
      other: 1,
    });
  });
});
