import { createDecipheriv, type KeyObject } from 'node:crypto';
import { AuthenticationError, LegacyFormatError, UnknownKeyError } from '../errors';
import type { LegacyReader } from './reader';

/**
 * JSON envelopes that carry a `key_id`, as the runbook's `reencrypt-secrets`
 * tool writes them (kek-rotation-reencrypt-cli.md: `"key_id":"kek-v1"`):
 *
 *   {"version":1,"alg":"AES-256-GCM","key_id":"kek-v1",
 *    "dek_wrapped":"<b64: nonce(12) | AES-256-GCM(KEK, DEK) | tag(16)>",
 *    "nonce":"<b64: 12 bytes>","ciphertext":"<b64: AES-256-GCM(DEK, plaintext) | tag(16)>"}
 *
 * A random data key per value, wrapped by the KEK named in key_id; no
 * additional data. The KEKs come from the same `kek-vN:<base64>` variables
 * as the raw keyring. A variant without `dek_wrapped` (the value sealed
 * directly under the KEK) is read too. Our reading of that tool's layout is
 * recorded in docs/decisions.md.
 */
export type KekResolver = (keyId: string) => KeyObject | Buffer | undefined;

interface JsonEnvelope {
  readonly version?: unknown;
  readonly alg?: unknown;
  readonly key_id?: unknown;
  readonly dek_wrapped?: unknown;
  readonly nonce?: unknown;
  readonly ciphertext?: unknown;
}

const B64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export class JsonKeyIdReader implements LegacyReader {
  readonly format = 'json-key-id' as const;

  constructor(private readonly resolveKek: KekResolver) {}

  recognizes(value: Buffer | string): boolean {
    const text = typeof value === 'string' ? value : value.toString('utf8');
    if (!text.trimStart().startsWith('{') || !text.includes('"key_id"')) return false;
    try {
      const parsed = JSON.parse(text) as JsonEnvelope;
      return typeof parsed === 'object' && parsed !== null && typeof parsed.key_id === 'string';
    } catch {
      return false;
    }
  }

  keyIdOf(value: Buffer | string): string | undefined {
    try {
      const parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as JsonEnvelope;
      return typeof parsed.key_id === 'string' ? parsed.key_id : undefined;
    } catch {
      return undefined;
    }
  }

  async decrypt(value: Buffer | string): Promise<Buffer> {
    let parsed: JsonEnvelope;
    try {
      parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as JsonEnvelope;
    } catch {
      throw new LegacyFormatError('the JSON envelope is not valid JSON');
    }
    const problems: string[] = [];
    if (typeof parsed.key_id !== 'string' || parsed.key_id.length === 0) problems.push('key_id missing');
    if (parsed.alg !== undefined && parsed.alg !== 'AES-256-GCM') problems.push(`alg ${JSON.stringify(parsed.alg)} is not AES-256-GCM`);
    if (parsed.version !== undefined && parsed.version !== 1) problems.push(`version ${JSON.stringify(parsed.version)} is not 1`);
    const nonce = b64Field(parsed.nonce, 'nonce', problems);
    const sealed = b64Field(parsed.ciphertext, 'ciphertext', problems);
    const wrapped = parsed.dek_wrapped === undefined ? undefined : b64Field(parsed.dek_wrapped, 'dek_wrapped', problems);
    if (nonce && nonce.length !== 12) problems.push(`nonce is ${nonce.length} bytes, expected 12`);
    if (sealed && sealed.length < 16) problems.push('ciphertext is shorter than the 16-byte tag');
    if (wrapped && wrapped.length !== 12 + 32 + 16) problems.push(`dek_wrapped is ${wrapped.length} bytes, expected 60`);
    if (problems.length > 0) throw new LegacyFormatError(`the JSON envelope is malformed: ${problems.join('; ')}`);
    const keyId = parsed.key_id as string;
    const kek = this.resolveKek(keyId);
    if (!kek) throw new UnknownKeyError(keyId);
    if (!wrapped) return gcmOpen(kek, nonce!, sealed!, 'ciphertext');
    const dek = gcmOpen(kek, wrapped.subarray(0, 12), wrapped.subarray(12), 'data-key');
    try {
      return gcmOpen(dek, nonce!, sealed!, 'ciphertext');
    } finally {
      dek.fill(0);
    }
  }
}

function b64Field(value: unknown, name: string, problems: string[]): Buffer | undefined {
  if (typeof value !== 'string' || !B64.test(value)) {
    problems.push(`${name} is not a base64 string`);
    return undefined;
  }
  return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
}

function gcmOpen(key: KeyObject | Buffer, nonce: Buffer, sealed: Buffer, part: 'data-key' | 'ciphertext'): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = decipher.update(sealed.subarray(0, sealed.length - 16));
  try {
    decipher.final();
  } catch (err) {
    out.fill(0);
    throw new AuthenticationError(part, { cause: err });
  }
  return out;
}
