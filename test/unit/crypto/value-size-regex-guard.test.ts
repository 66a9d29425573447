import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { fromText, isEnvelope, parseEnvelope, peekKeyId } from '../../../functions/core/crypto/envelope';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { classifyValue } from '../../../functions/core/crypto/legacy/classify';
import { fernetEncrypt, fernetTimestamp, FernetReader } from '../../../functions/core/crypto/legacy/fernet';
import { jsonKeyIdEncrypt, JsonKeyIdReader } from '../../../functions/core/crypto/legacy/json-key-id';
import { decodeStandardBase64 } from '../../../functions/core/crypto/standard-base64';

/**
 * V8's regex engine threw "Maximum call stack size exceeded" in CI on a 7 MB
 * text envelope (once in many runs, so a size test alone cannot catch it).
 * This suite makes the rule checkable: while a value-sized input is being
 * classified, parsed or decrypted, any regex handed more than LIMIT
 * characters fails the test. Patching `exec` reaches `test`, `match`,
 * `search`, `replace` and `split` too: V8 routes them all through it once
 * RegExp.prototype is modified.
 */
const LIMIT = 64 * 1024;
const BIG = 6 * 1024 * 1024;

/** Runs `run` (sync or async) with every regex input over LIMIT recorded; fails the test when there was one. */
function withRegexGuard<T>(run: () => T): T {
  const original = Object.getOwnPropertyDescriptor(RegExp.prototype, 'exec')!;
  const seen: string[] = [];
  RegExp.prototype.exec = function guarded(this: RegExp, input: string) {
    const length = String(input).length;
    if (length > LIMIT) seen.push(`/${this.source}/ on ${length} characters`);
    return original.value.call(this, input);
  };
  const restore = (): void => {
    Object.defineProperty(RegExp.prototype, 'exec', original);
    // Checked after restoring, so the assertion's own formatting runs unguarded.
    expect(seen).toEqual([]);
  };
  let result: T;
  try {
    result = run();
  } catch (error) {
    Object.defineProperty(RegExp.prototype, 'exec', original);
    throw error;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

const ctx = { table: 'users', column: 'api_key', rowId: '1' };
const fernetKey = randomBytes(32).toString('base64url');
const kek = randomBytes(32);

describe('value-sized input never reaches the regex engine', () => {
  const cipher = EnvelopeCipher.create({
    keyring: new RawKeyring([{ id: 'kek-v1', key: kek }]),
    maxPlaintextBytes: 2 * BIG,
  });

  it('the guard itself sees a regex run on a large string', () => {
    const big = 'A'.repeat(LIMIT + 1);
    expect(() => withRegexGuard(() => /^[A-Za-z0-9_-]+$/.test(big))).toThrow();
    expect(() => withRegexGuard(() => big.replace(/=+$/, ''))).toThrow();
  });

  it('encrypting and decrypting a multi-megabyte text value', async () => {
    const plaintext = 'x'.repeat(BIG);
    const c = await cipher;
    const text = (await withRegexGuard(() => c.encrypt(plaintext, ctx))) as string;
    expect(text.length).toBeGreaterThan(BIG);
    const back = await withRegexGuard(() => c.decrypt(text, ctx));
    expect(back.length).toBe(BIG);
  });

  it('classifying and parsing a multi-megabyte text envelope, whole and damaged', async () => {
    const text = (await (await cipher).encrypt(randomBytes(BIG), ctx)) as unknown as Buffer;
    const asText = (await (await cipher).encrypt('y'.repeat(BIG), ctx)) as string;
    withRegexGuard(() => {
      expect(isEnvelope(asText)).toBe(true);
      expect(classifyValue(asText)).toEqual({ kind: 'envelope', keyId: 'kek-v1' });
      expect(peekKeyId(asText)).toBe('kek-v1');
      expect(parseEnvelope(asText).keyId).toBe('kek-v1');
      expect(classifyValue(text)).toEqual({ kind: 'envelope', keyId: 'kek-v1' });
      const damaged = `${asText.slice(0, -2)}!A`;
      expect(isEnvelope(damaged)).toBe(false);
      expect(() => fromText(damaged)).toThrow(/character \d+ is outside/);
      expect(classifyValue(damaged)).toEqual(expect.objectContaining({ kind: 'envelope' }));
    });
  });

  it('classifying, timing and reading a multi-megabyte Fernet token', () => {
    const token = fernetEncrypt(fernetKey, 'z'.repeat(BIG));
    const reader = FernetReader.fromKeys([fernetKey]);
    const forged = `gAAAAA${'B'.repeat(BIG)}==`;
    withRegexGuard(() => {
      expect(classifyValue(token, [reader])).toEqual({ kind: 'fernet', keyId: expect.any(String) });
      expect(classifyValue(forged)).toEqual({ kind: 'fernet' });
      expect(fernetTimestamp(token)).toEqual(expect.any(Number));
      expect(reader.decryptWithKeyId(token).plaintext.length).toBe(BIG);
      expect(() => reader.decryptWithKeyId(`${forged}=`)).toThrow(/not base64url/);
    });
  });

  it('classifying and reading a multi-megabyte JSON key_id envelope and plain text', async () => {
    const value = jsonKeyIdEncrypt(kek, 'kek-v1', 'w'.repeat(BIG));
    const reader = new JsonKeyIdReader((id) => (id === 'kek-v1' ? kek : undefined));
    withRegexGuard(() => {
      expect(classifyValue(value, [reader])).toEqual({ kind: 'json-key-id', keyId: 'kek-v1' });
      expect(decodeStandardBase64(`${'A'.repeat(BIG)}!`)).toBeUndefined();
      expect(classifyValue('p'.repeat(BIG))).toEqual({ kind: 'plaintext' });
    });
    const plaintext = await withRegexGuard(() => reader.decrypt(value));
    expect(plaintext.length).toBe(BIG);
  });
});
