import {
  assertKeyId,
  fromText,
  layoutEnvelope,
  parseEnvelope,
  serializeEnvelope,
  toText,
  type EnvelopeV1,
} from '../../../functions/core/crypto/envelope';
import { EnvelopeFormatError, UnsupportedVersionError } from '../../../functions/core/crypto/errors';

/**
 * One test per `Precondition:` tag of functions/core/crypto/envelope.ts, with
 * the tag's text as its title (preconditions.test.ts checks that each tag has
 * one). Each shows the value refused, the error class and reason, and that the
 * message says where the value is wrong.
 */
const sample: EnvelopeV1 = {
  version: 1,
  keyId: 'kek-v2', // bytes 2-7; wrapped-key length at bytes 8-9
  wrappedKey: Buffer.alloc(60, 0x11),
  nonce: Buffer.alloc(12, 0x22),
  sealed: Buffer.concat([Buffer.from('ciphertext'), Buffer.alloc(16, 0x33)]),
};
const binary = serializeEnvelope(sample);
const text = toText(binary);

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

function formatError(fn: () => unknown, reason: string, message: RegExp): void {
  const err = caught(fn);
  expect(err).toBeInstanceOf(EnvelopeFormatError);
  expect(err).toMatchObject({ reason });
  expect(err.message).toMatch(message);
}

function versionError(fn: () => unknown, version: number): void {
  const err = caught(fn);
  expect(err).toBeInstanceOf(UnsupportedVersionError);
  expect(err).toMatchObject({ version });
}

function edited(edit: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(binary);
  edit(copy);
  return copy;
}

describe('envelope.ts preconditions', () => {
  test('Precondition: an envelope is a Buffer, a Uint8Array or a string.', () => {
    formatError(
      () => parseEnvelope(null as unknown as Buffer),
      'bad-field',
      /a Buffer, a Uint8Array or a string, got null/,
    );
    formatError(() => parseEnvelope(42 as unknown as Buffer), 'bad-field', /got number$/);
    expect(parseEnvelope(new Uint8Array(binary) as Buffer).keyId).toBe('kek-v2');
  });

  test('Precondition: the value is not empty.', () => {
    formatError(() => parseEnvelope(Buffer.alloc(0)), 'empty', /the value is empty: an envelope is at least 34 bytes/);
  });

  test('Precondition: the version byte is a known version.', () => {
    versionError(() => parseEnvelope(edited((b) => (b[0] = 7))), 7);
    versionError(() => parseEnvelope(edited((b) => (b[0] = 0))), 0);
    // The text path checks the decoded byte too: rk1: over a version 2 binary.
    versionError(() => fromText('rk1:' + edited((b) => (b[0] = 2)).toString('base64url')), 2);
  });

  test('Precondition: the value holds at least the smallest envelope (34 bytes).', () => {
    formatError(
      () => parseEnvelope(binary.subarray(0, 33)),
      'truncated',
      /it has 33 bytes, its header calls for at least 34 \(the smallest envelope\)/,
    );
  });

  test('Precondition: the key id length (byte 1) is not 0.', () => {
    formatError(() => parseEnvelope(edited((b) => (b[1] = 0))), 'bad-field', /key id length \(byte 1\) is 0/);
  });

  test('Precondition: the value holds the key id and the wrapped-key length.', () => {
    formatError(
      () => parseEnvelope(edited((b) => (b[1] = 255))),
      'truncated',
      /it has 108 bytes, its header calls for at least 259 \(the 255-byte key id of byte 1, then the wrapped-key length\)/,
    );
  });

  test('Precondition: the key id holds only [A-Za-z0-9._:/+=@-].', () => {
    formatError(
      () => parseEnvelope(edited((b) => (b[3] = 0x0a))),
      'bad-field',
      /key id \(bytes 2-7\) holds characters/,
    );
    formatError(() => parseEnvelope(edited((b) => (b[7] = 0x2c))), 'bad-field', /bytes 2-7/); // a comma
  });

  test('Precondition: the wrapped-key length is not 0.', () => {
    formatError(
      () => parseEnvelope(edited((b) => b.writeUInt16BE(0, 8))),
      'bad-field',
      /wrapped-key length is 0 \(bytes 8-9\)/,
    );
  });

  test('Precondition: the value holds the wrapped key, the nonce and the tag.', () => {
    formatError(
      () => parseEnvelope(edited((b) => b.writeUInt16BE(5000, 8))),
      'truncated',
      /at least 5038 \(the 5000-byte wrapped key of bytes 8-9, a 12-byte nonce and a 16-byte tag\)/,
    );
    // One byte short of the tag: the header's lengths are consistent, the value is cut.
    const shortest = serializeEnvelope({ ...sample, sealed: Buffer.alloc(16) });
    formatError(() => parseEnvelope(shortest.subarray(0, shortest.length - 1)), 'truncated', /at least 98/);
  });

  test('Precondition: only a version 1 envelope is serialized.', () => {
    versionError(() => serializeEnvelope({ ...sample, version: 2 as 1 }), 2);
  });

  test('Precondition: the nonce is 12 bytes.', () => {
    formatError(
      () => serializeEnvelope({ ...sample, nonce: Buffer.alloc(11) }),
      'bad-field',
      /nonce must be 12 bytes, got 11/,
    );
    formatError(() => serializeEnvelope({ ...sample, nonce: Buffer.alloc(13) }), 'bad-field', /got 13/);
  });

  test('Precondition: the sealed bytes hold at least the 16-byte tag.', () => {
    formatError(
      () => serializeEnvelope({ ...sample, sealed: Buffer.alloc(15) }),
      'bad-field',
      /at least the 16-byte tag, got 15 bytes/,
    );
    expect(serializeEnvelope({ ...sample, sealed: Buffer.alloc(16) }).length).toBe(98);
  });

  test('Precondition: the wrapped key is 1-65535 bytes.', () => {
    formatError(() => layoutEnvelope('kek-v2', Buffer.alloc(0), 16), 'bad-field', /must be 1-65535 bytes, got 0$/);
    formatError(() => layoutEnvelope('kek-v2', Buffer.alloc(65536), 16), 'bad-field', /got 65536$/);
    expect(layoutEnvelope('kek-v2', Buffer.alloc(65535), 16).bytes.readUInt16BE(8)).toBe(65535);
  });

  test('Precondition: a key id is 1-255 characters from [A-Za-z0-9._:/+=@-].', () => {
    formatError(() => assertKeyId(''), 'bad-field', /1-255 characters .* \(got 0 characters\)/);
    formatError(() => assertKeyId('k'.repeat(256)), 'bad-field', /\(got 256 characters\)/);
    formatError(() => assertKeyId('kek v2'), 'bad-field', /\(got 6 characters\)/);
    formatError(() => assertKeyId(42 as unknown as string), 'bad-field', /\(got number\)/);
    expect(() => assertKeyId('alias/app+x=y@z')).not.toThrow();
  });

  test('Precondition: only a non-empty binary is encoded as text.', () => {
    formatError(() => toText(Buffer.alloc(0)), 'empty', /cannot encode an empty value/);
  });

  test('Precondition: only a version 1 binary is encoded as text.', () => {
    versionError(() => toText(Buffer.from([2, 1, 2, 3])), 2);
  });

  test('Precondition: a text envelope is a string.', () => {
    formatError(() => fromText(42 as unknown as string), 'bad-field', /must be a string, got number/);
  });

  test('Precondition: a text envelope is not empty.', () => {
    formatError(() => fromText(''), 'empty', /starts with "rk1:"/);
  });

  test('Precondition: a text envelope of another version is refused as that version.', () => {
    versionError(() => fromText('rk2:' + text.slice(4)), 2);
    versionError(() => fromText('rk12:' + text.slice(4)), 12);
  });

  test('Precondition: a text envelope starts with "rk1:".', () => {
    for (const other of ['hello', 'RK1:' + text.slice(4), ' ' + text, 'gAAAAABl' + 'x'.repeat(80)]) {
      formatError(() => fromText(other), 'bad-prefix', /does not start with "rk1:"/);
    }
  });

  test('Precondition: a text envelope has a body after "rk1:".', () => {
    formatError(() => fromText('rk1:'), 'empty', /nothing after "rk1:"/);
  });

  test('Precondition: the body is canonical unpadded base64url.', () => {
    const secretish = 'rk1:' + text.slice(4, 24) + ' s3cret';
    formatError(() => fromText(secretish), 'not-base64', /its character 21 is outside \[A-Za-z0-9_-\]$/);
    expect(caught(() => fromText(secretish)).message).not.toContain('s3cret');
    formatError(() => fromText(text + '='), 'not-base64', /character \d+ is outside/);
    formatError(() => fromText('rk1:AAAAA'), 'not-base64', /5 characters are no whole bytes/);
    // A 104-byte binary is 139 characters: the last one carries 2 unused bits, which must be zero.
    const odd = toText(serializeEnvelope({ ...sample, sealed: Buffer.alloc(22, 0x44) }));
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = odd.slice(0, -1) + alphabet[alphabet.indexOf(odd[odd.length - 1]!) ^ 1];
    formatError(() => fromText(sibling), 'not-base64', /last character has non-zero unused bits/);
  });
});
