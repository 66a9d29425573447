import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A Fernet implementation (https://github.com/fernet/spec) on node:crypto, for
 * the benchmark's comparison only: version 0x80 | timestamp (8) | IV (16) |
 * AES-128-CBC/PKCS7 ciphertext | HMAC-SHA256 (32), urlsafe base64 with padding.
 * Decrypt checks the HMAC before decrypting, as Python's cryptography does.
 * (rekey's own Fernet reader lives in functions/core/crypto/legacy/.)
 */
export class BenchFernet {
  private readonly signingKey: Buffer;
  private readonly encryptionKey: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new RangeError('a Fernet key is 32 bytes');
    this.signingKey = key.subarray(0, 16);
    this.encryptionKey = key.subarray(16);
  }

  encrypt(plaintext: Buffer): string {
    const iv = randomBytes(16);
    const header = Buffer.alloc(9);
    header[0] = 0x80;
    header.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)), 1);
    const cipher = createCipheriv('aes-128-cbc', this.encryptionKey, iv);
    const body = Buffer.concat([header, iv, cipher.update(plaintext), cipher.final()]);
    const mac = createHmac('sha256', this.signingKey).update(body).digest();
    return Buffer.concat([body, mac]).toString('base64').replace(/\+/g, '-').replace(/\//g, '_'); // urlsafe, padded
  }

  decrypt(token: string): Buffer {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 1 + 8 + 16 + 16 + 32 || raw[0] !== 0x80) throw new Error('invalid Fernet token');
    const body = raw.subarray(0, raw.length - 32);
    const mac = createHmac('sha256', this.signingKey).update(body).digest();
    if (!timingSafeEqual(mac, raw.subarray(raw.length - 32))) throw new Error('invalid Fernet token');
    const decipher = createDecipheriv('aes-128-cbc', this.encryptionKey, raw.subarray(9, 25));
    return Buffer.concat([decipher.update(raw.subarray(25, raw.length - 32)), decipher.final()]);
  }
}
