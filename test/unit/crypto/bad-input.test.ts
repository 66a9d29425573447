import { inspect } from 'node:util';
import type { EncryptionContext } from '../../../functions/core/crypto/context';
import { parseEnvelope, serializeEnvelope, toText } from '../../../functions/core/crypto/envelope';
import type { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import {
  AuthenticationError,
  CryptoError,
  EnvelopeFormatError,
  InvalidContextError,
  KeyDestroyedError,
  OversizeError,
  UnknownKeyError,
  UnsupportedVersionError,
} from '../../../functions/core/crypto/errors';
import { RecordingKeyring, cipher, keySpellings } from './support';

/**
 * Every kind of bad input ends in a typed CryptoError — never a crash, never
 * a success — and no message (nor the error's inspected form, cause included)
 * spells the plaintext, a KEK or a data key.
 */
const PLAINTEXT = 'correct horse battery staple';
const ctx: EncryptionContext = { table: 'users', column: 'password_hint', rowId: '42', tenant: 'acme' };

const recording = new RecordingKeyring();
// kek-v2 active, kek-v1 retired, kek-v3 pending: all three decrypt.
const c: EnvelopeCipher = cipher({}, recording);
let good: Buffer;
let forbidden: string[];

beforeAll(async () => {
  good = (await c.encrypt(Buffer.from(PLAINTEXT), ctx)) as Buffer;
  forbidden = [
    PLAINTEXT,
    Buffer.from(PLAINTEXT).toString('hex'),
    Buffer.from(PLAINTEXT).toString('base64'),
    ...keySpellings(recording.dataKeyCopies),
  ];
});

type Expected = (err: unknown) => boolean;
const is =
  (cls: abstract new (...args: never[]) => Error): Expected =>
  (err) =>
    err instanceof cls;
const auth =
  (part: 'data-key' | 'ciphertext'): Expected =>
  (err) =>
    err instanceof AuthenticationError && err.part === part;
const format =
  (reason?: string): Expected =>
  (err) =>
    err instanceof EnvelopeFormatError && (reason === undefined || err.reason === reason);
const anyOf =
  (...options: Expected[]): Expected =>
  (err) =>
    options.some((o) => o(err));

async function failure(
  envelope: Buffer | string,
  context: EncryptionContext = ctx,
  using: EnvelopeCipher = c,
): Promise<unknown> {
  try {
    const out = await using.decrypt(envelope, context);
    return new Error(`decrypted (${out.length} bytes) where it should have failed`);
  } catch (err) {
    return err;
  }
}

function assertClean(err: unknown, what: string): void {
  if (!(err instanceof CryptoError)) throw new Error(`${what}: expected a CryptoError, got ${inspect(err)}`);
  const shown = err.message + '\n' + inspect(err, { depth: 5 });
  for (const secret of forbidden) {
    if (shown.includes(secret)) throw new Error(`${what}: the error spells a secret`);
  }
}

async function expectFailure(
  envelope: Buffer | string,
  expected: Expected,
  what: string,
  context: EncryptionContext = ctx,
  using: EnvelopeCipher = c,
): Promise<void> {
  const err = await failure(envelope, context, using);
  assertClean(err, what);
  if (!expected(err)) throw new Error(`${what}: unexpected ${inspect(err)}`);
}

function regions(b: Buffer): { name: string; from: number; to: number; expected: Expected }[] {
  const e = parseEnvelope(b);
  const keyIdEnd = 2 + e.keyId.length;
  const wrappedStart = keyIdEnd + 2;
  const nonceStart = wrappedStart + e.wrappedKey.length;
  const sealedStart = nonceStart + 12;
  return [
    { name: 'version byte', from: 0, to: 1, expected: is(UnsupportedVersionError) },
    { name: 'key id length', from: 1, to: 2, expected: anyOf(format(), is(UnknownKeyError)) },
    {
      name: 'key id',
      from: 2,
      to: keyIdEnd,
      expected: anyOf(format('bad-field'), is(UnknownKeyError), auth('data-key')),
    },
    { name: 'wrapped-key length', from: keyIdEnd, to: wrappedStart, expected: anyOf(format(), auth('data-key')) },
    { name: 'wrapped key', from: wrappedStart, to: nonceStart, expected: auth('data-key') },
    { name: 'nonce', from: nonceStart, to: sealedStart, expected: auth('ciphertext') },
    { name: 'ciphertext', from: sealedStart, to: b.length - 16, expected: auth('ciphertext') },
    { name: 'tag', from: b.length - 16, to: b.length, expected: auth('ciphertext') },
  ];
}

describe('bad input: every case a typed error, no secret in any message', () => {
  it('the good envelope decrypts (so the failures below are caused by the damage)', async () => {
    expect((await c.decrypt(good, ctx)).toString()).toBe(PLAINTEXT);
    expect((await c.decrypt(toText(good), ctx)).toString()).toBe(PLAINTEXT);
  });

  it('binary truncated at every byte offset', async () => {
    const sealedStart = good.length - Buffer.byteLength(PLAINTEXT) - 16;
    for (let n = 0; n < good.length; n++) {
      const expected = n === 0 ? format('empty') : n < sealedStart + 16 ? format('truncated') : auth('ciphertext');
      await expectFailure(good.subarray(0, n), expected, `cut to ${n} bytes`);
    }
  });

  it('text truncated at every character', async () => {
    const text = toText(good);
    for (let n = 0; n < text.length; n++) {
      await expectFailure(text.slice(0, n), anyOf(format(), auth('ciphertext')), `text cut to ${n} characters`);
    }
  });

  it('each byte flipped (two bit positions), with the error of its region', async () => {
    let checked = 0;
    for (const region of regions(good)) {
      for (let at = region.from; at < region.to; at++) {
        for (const mask of [0x01, 0x80]) {
          const bad = Buffer.from(good);
          bad[at] = bad[at]! ^ mask;
          await expectFailure(bad, region.expected, `${region.name} byte ${at} ^ ${mask}`);
          checked++;
        }
      }
    }
    expect(checked).toBe(good.length * 2);
  });

  it('each text character replaced', async () => {
    const text = toText(good);
    for (let at = 0; at < text.length; at++) {
      const swapped = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
      await expectFailure(
        swapped,
        anyOf(format(), is(UnsupportedVersionError), is(UnknownKeyError), auth('data-key'), auth('ciphertext')),
        `text char ${at}`,
      );
    }
  });

  it('bytes appended', async () => {
    await expectFailure(Buffer.concat([good, Buffer.from([0])]), auth('ciphertext'), 'one byte appended');
    await expectFailure(toText(good) + 'AA', anyOf(format('not-base64'), auth('ciphertext')), 'text appended');
  });

  it.each([0x00, 0x02, 0x7f, 0xff])('wrong version byte 0x%s', async (version) => {
    const bad = Buffer.from(good);
    bad[0] = version;
    const err = await failure(bad);
    assertClean(err, 'version');
    expect(err).toBeInstanceOf(UnsupportedVersionError);
    expect((err as UnsupportedVersionError).version).toBe(version);
  });

  it('unknown key id', async () => {
    const e = parseEnvelope(good);
    await expectFailure(serializeEnvelope({ ...e, keyId: 'kek-v9' }), is(UnknownKeyError), 'unknown key');
  });

  it('a key the catalog knows but the keyring does not', async () => {
    const e = parseEnvelope(good);
    const { StaticKeyPolicy } = await import('../../../functions/core/crypto/key-policy');
    const { EnvelopeCipher } = await import('../../../functions/core/crypto/envelope-cipher');
    const catalogOnly = new EnvelopeCipher({
      keyring: recording,
      policy: new StaticKeyPolicy([
        { id: 'kek-v9', status: 'retired' },
        { id: 'kek-v2', status: 'active' },
      ]),
    });
    await expectFailure(
      serializeEnvelope({ ...e, keyId: 'kek-v9' }),
      is(UnknownKeyError),
      'keyring lacks key',
      ctx,
      catalogOnly,
    );
  });

  it('destroyed key', async () => {
    await expectFailure(
      good,
      is(KeyDestroyedError),
      'destroyed',
      ctx,
      cipher({ 'kek-v2': 'destroyed', 'kek-v3': 'active' }),
    );
  });

  it.each<[string, EncryptionContext]>([
    ['row', { ...ctx, rowId: '43' }],
    ['column', { ...ctx, column: 'password' }],
    ['table', { ...ctx, table: 'admins' }],
    ['tenant changed', { ...ctx, tenant: 'globex' }],
    ['tenant removed', { ...ctx, tenant: null }],
    ['boundary moved between fields', { ...ctx, table: 'users', column: 'password_hin', rowId: 't42' }],
  ])('wrong context: %s', async (_what, wrong) => {
    await expectFailure(good, auth('data-key'), 'wrong context', wrong);
    await expectFailure(toText(good), auth('data-key'), 'wrong context (text)', wrong);
  });

  it('malformed context', async () => {
    await expectFailure(good, is(InvalidContextError), 'no rowId', {
      table: 'users',
      column: 'x',
    } as EncryptionContext);
  });

  it.each<[string, (good: Buffer) => string]>([
    ['characters outside base64url', () => 'rk1:!!!!' + 'A'.repeat(60)],
    ['standard base64 (with + / =)', (g) => 'rk1:' + g.toString('base64')],
    ['a non-ASCII character inside', (g) => 'rk1:' + toText(g).slice(4, 50) + '\u00e9' + toText(g).slice(51)],
    ['no prefix at all', () => PLAINTEXT],
  ])('not base64 / not an envelope: %s', async (_what, make) => {
    await expectFailure(make(good), format(), 'not base64');
  });

  it('the plaintext itself, given as an envelope, is not echoed', async () => {
    await expectFailure(PLAINTEXT, format('bad-prefix'), 'plaintext as envelope');
    await expectFailure(Buffer.from(PLAINTEXT), is(UnsupportedVersionError), 'plaintext bytes as envelope');
  });

  it.each<[string, Buffer | string]>([
    ['empty string', ''],
    ['empty buffer', Buffer.alloc(0)],
    ['prefix only', 'rk1:'],
  ])('empty: %s', async (_what, value) => {
    await expectFailure(value, format('empty'), 'empty');
  });

  it('wrong types', async () => {
    await expectFailure(null as unknown as string, format('bad-field'), 'null');
    await expectFailure(12345 as unknown as string, format('bad-field'), 'number');
  });

  it('oversized', async () => {
    const small = cipher({}, recording, 64);
    await expectFailure(toText(good) + 'A'.repeat(100_000), is(OversizeError), 'oversized text', ctx, small);
    const encryptErr = await small.encrypt(Buffer.alloc(65, 0x41), ctx).catch((e: unknown) => e);
    expect(encryptErr).toBeInstanceOf(OversizeError);
    assertClean(encryptErr, 'oversized plaintext');
  });
});
