import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The same envelope v1 bytes as functions/core, written the straightforward
 * way: crypto.randomBytes per nonce and data key, KEKs as Buffers, no
 * authTagLength option, Buffer.concat for every part, the context encoded
 * again for each AAD. The benchmark runs it beside the real code to show what
 * the optimizations in aead.ts / random-pool.ts / envelope-cipher.ts bought.
 * Not used anywhere else.
 */
interface Ctx {
  table: string;
  column: string;
  rowId: string;
  tenant?: string | null;
}

function lp(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function context(ctx: Ctx): Buffer {
  const tenant = ctx.tenant == null ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), lp(ctx.tenant)]);
  return Buffer.concat([lp(ctx.table), lp(ctx.column), lp(ctx.rowId), tenant]);
}

const wrapAad = (keyId: string, ctx: Ctx): Buffer =>
  Buffer.concat([Buffer.from([0x77, 1, keyId.length]), Buffer.from(keyId, 'latin1'), context(ctx)]);
const dataAad = (ctx: Ctx): Buffer => Buffer.concat([Buffer.from([0x64, 1]), context(ctx)]);

function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  return Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
}

function open(key: Buffer, nonceAndSealed: Buffer, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, nonceAndSealed.subarray(0, 12));
  d.setAuthTag(nonceAndSealed.subarray(nonceAndSealed.length - 16));
  d.setAAD(aad);
  return Buffer.concat([d.update(nonceAndSealed.subarray(12, nonceAndSealed.length - 16)), d.final()]);
}

export class NaiveEnvelope {
  constructor(
    private readonly keks: Map<string, Buffer>,
    private readonly primary: string,
  ) {}

  encrypt(plaintext: string, ctx: Ctx): string {
    const dek = randomBytes(32);
    try {
      const kek = this.keks.get(this.primary)!;
      const wrapped = seal(kek, dek, wrapAad(this.primary, ctx));
      const data = seal(dek, Buffer.from(plaintext, 'utf8'), dataAad(ctx));
      const len = Buffer.alloc(2);
      len.writeUInt16BE(wrapped.length);
      const env = Buffer.concat([
        Buffer.from([1, this.primary.length]),
        Buffer.from(this.primary, 'latin1'),
        len,
        wrapped,
        data,
      ]);
      return 'rk1:' + env.toString('base64url');
    } finally {
      dek.fill(0);
    }
  }

  decrypt(text: string, ctx: Ctx): Buffer {
    const env = Buffer.from(text.slice(4), 'base64url');
    const k = env[1]!;
    const keyId = env.toString('latin1', 2, 2 + k);
    const w = env.readUInt16BE(2 + k);
    const wrapped = env.subarray(4 + k, 4 + k + w);
    const dek = open(this.keks.get(keyId)!, wrapped, wrapAad(keyId, ctx));
    try {
      return open(dek, env.subarray(4 + k + w), dataAad(ctx));
    } finally {
      dek.fill(0);
    }
  }
}
