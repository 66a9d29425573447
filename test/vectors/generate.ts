/**
 * Makes test/vectors/envelope-v1.json ONCE. The committed file is the
 * known-answer set; it must decrypt with every future build, so this script is
 * not part of the test run and refuses to overwrite the file (pass --force
 * only to start a new, deliberately incompatible set — which should never be
 * needed for v1).
 *
 *   npx tsx test/vectors/generate.ts
 *
 * Deliberately independent of functions/core: it lays out bytes from the
 * specification in docs/envelope-format.md with node:crypto alone, so a bug in
 * envelope.ts cannot make its own vectors agree with it. The keys below are
 * TEST KEYS, generated for this file and used nowhere else.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OUT = join(__dirname, 'envelope-v1.json');

interface Context {
  table: string;
  column: string;
  rowId: string;
  tenant?: string | null;
}

const keys: Record<string, Buffer> = {
  'kek-v1': randomBytes(32),
  'kek-v2': randomBytes(32),
};

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function lp(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u16(b.length), b]);
}

/** Canonical context encoding (docs/envelope-format.md, "Encryption context"). */
function context(ctx: Context): Buffer {
  const tenant = ctx.tenant == null ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), lp(ctx.tenant)]);
  return Buffer.concat([lp(ctx.table), lp(ctx.column), lp(ctx.rowId), tenant]);
}

function wrapAad(keyId: string, ctx: Context): Buffer {
  return Buffer.concat([Buffer.from([0x77, 0x01, keyId.length]), Buffer.from(keyId, 'ascii'), context(ctx)]);
}

function dataAad(ctx: Context): Buffer {
  return Buffer.concat([Buffer.from([0x64, 0x01]), context(ctx)]);
}

function gcm(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

interface Parts {
  keyId: string;
  wrapped: Buffer;
  nonce: Buffer;
  sealed: Buffer;
  dataKey: Buffer;
}

function wrapKey(keyId: string, dataKey: Buffer, ctx: Context): Buffer {
  const nonce = randomBytes(12);
  return Buffer.concat([nonce, gcm(keys[keyId] as Buffer, nonce, dataKey, wrapAad(keyId, ctx))]);
}

function seal(keyId: string, plaintext: Buffer, ctx: Context, dataCtx: Context = ctx): Parts {
  const dataKey = randomBytes(32);
  const nonce = randomBytes(12);
  return {
    keyId,
    dataKey,
    wrapped: wrapKey(keyId, dataKey, ctx),
    nonce,
    sealed: gcm(dataKey, nonce, plaintext, dataAad(dataCtx)),
  };
}

function binary(p: Pick<Parts, 'keyId' | 'wrapped' | 'nonce' | 'sealed'>): Buffer {
  return Buffer.concat([
    Buffer.from([0x01, p.keyId.length]),
    Buffer.from(p.keyId, 'ascii'),
    u16(p.wrapped.length),
    p.wrapped,
    p.nonce,
    p.sealed,
  ]);
}

function text(b: Buffer): string {
  return 'rk1:' + b.toString('base64url');
}

const users = { table: 'users', column: 'email', rowId: '42' };
const unicode = 'Grüße, 世界! 👋🏽 e\u0301 — “quotes” \u0000 nul';
const kib = Buffer.alloc(1024);
for (let i = 0; i < kib.length; i++) kib[i] = (i * 131 + 7) & 0xff;
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const positives: Array<{ name: string; ctx: Context; plaintext: Buffer; parts: Parts }> = [];
function positive(name: string, keyId: string, ctx: Context, plaintext: Buffer): Parts {
  const parts = seal(keyId, plaintext, ctx);
  positives.push({ name, ctx, plaintext, parts });
  return parts;
}

const empty = positive('empty plaintext, no tenant', 'kek-v1', users, Buffer.alloc(0));
const short = positive('short ASCII, no tenant', 'kek-v1', users, Buffer.from('s3cret', 'utf8'));
positive(
  'unicode text, tenant',
  'kek-v1',
  { table: 'accounts', column: 'display_name', rowId: '7', tenant: 'acme' },
  Buffer.from(unicode, 'utf8'),
);
const big = positive(
  '1 KiB binary, tenant, kek-v2',
  'kek-v2',
  { table: 'documents', column: 'body', rowId: '1001', tenant: 'acme' },
  kib,
);
positive(
  'all 256 byte values, tenant null',
  'kek-v2',
  { table: 'blobs', column: 'data', rowId: '0', tenant: null },
  allBytes,
);
positive(
  'unicode context, uuid row id',
  'kek-v1',
  { table: 'tëst_table', column: 'clé', rowId: '3f2504e0-4f89-11d3-9a0c-0305e82c3301', tenant: 'テナント' },
  Buffer.from('value', 'utf8'),
);
// Rewrap keeps nonce and ciphertext: the same data key wrapped under kek-v2.
const rewrapped: Parts = { ...short, keyId: 'kek-v2', wrapped: wrapKey('kek-v2', short.dataKey, users) };
positives.push({
  name: 'short ASCII rewrapped to kek-v2 (same nonce and ciphertext as "short ASCII")',
  ctx: users,
  plaintext: Buffer.from('s3cret'),
  parts: rewrapped,
});

type Expect = { class: string; reason?: string; part?: string };
const negatives: Array<{
  name: string;
  envelope: string | Buffer;
  ctx: Context;
  expect: Expect;
  destroyed?: string[];
}> = [];
function negative(
  name: string,
  envelope: string | Buffer,
  expect: Expect,
  ctx: Context = users,
  destroyed?: string[],
): void {
  negatives.push({ name, envelope, ctx, expect, ...(destroyed ? { destroyed } : {}) });
}
function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] = (c[at] as number) ^ 0x01;
  return c;
}

const base = binary(short);
const keyIdAt = 2;
const wrappedAt = 2 + short.keyId.length + 2;
const nonceAt = wrappedAt + short.wrapped.length;
const sealedAt = nonceAt + 12;
const dataAuth = { class: 'AuthenticationError', part: 'ciphertext' };
const keyAuth = { class: 'AuthenticationError', part: 'data-key' };

negative('version byte 0x02', Buffer.concat([Buffer.from([0x02]), base.subarray(1)]), {
  class: 'UnsupportedVersionError',
});
negative('text prefix rk2:', 'rk2:' + base.toString('base64url'), { class: 'UnsupportedVersionError' });
negative(
  'key id relabelled kek-v1 -> kek-v2',
  Buffer.concat([base.subarray(0, keyIdAt), Buffer.from('kek-v2'), base.subarray(keyIdAt + 6)]),
  keyAuth,
);
negative(
  'unknown key id kek-v9',
  Buffer.concat([base.subarray(0, keyIdAt), Buffer.from('kek-v9'), base.subarray(keyIdAt + 6)]),
  { class: 'UnknownKeyError' },
);
negative('key destroyed (policy)', base, { class: 'KeyDestroyedError' }, users, ['kek-v1']);
negative('wrapped key: nonce byte flipped', flip(base, wrappedAt), keyAuth);
negative('wrapped key: ciphertext byte flipped', flip(base, wrappedAt + 20), keyAuth);
negative('wrapped key: tag byte flipped', flip(base, nonceAt - 1), keyAuth);
negative(
  'wrapped key shortened (length 59)',
  Buffer.concat([
    base.subarray(0, wrappedAt - 2),
    u16(59),
    base.subarray(wrappedAt, nonceAt - 1),
    base.subarray(nonceAt),
  ]),
  keyAuth,
);
negative('nonce byte flipped', flip(base, nonceAt), dataAuth);
negative('ciphertext byte flipped', flip(base, sealedAt), dataAuth);
negative('tag byte flipped', flip(base, base.length - 1), dataAuth);
negative('last tag byte cut off', base.subarray(0, base.length - 1), dataAuth);
negative('truncated inside the header', base.subarray(0, wrappedAt + 10), {
  class: 'EnvelopeFormatError',
  reason: 'truncated',
});
negative('wrong row id', text(base), keyAuth, { ...users, rowId: '43' });
negative('wrong column', text(base), keyAuth, { ...users, column: 'phone' });
negative('wrong table', text(base), keyAuth, { ...users, table: 'admins' });
negative('tenant added', text(base), keyAuth, { ...users, tenant: 'acme' });
negative('tenant removed', text(binary(big)), keyAuth, { table: 'documents', column: 'body', rowId: '1001' });
negative('context fields shifted: column+rowId ("emai","l42") vs ("email","42")', text(base), keyAuth, {
  table: 'users',
  column: 'emai',
  rowId: 'l42',
});
// Wrap AAD right, data AAD for another row: only the data-layer binding catches it.
const dataOnly = seal('kek-v1', Buffer.from('s3cret'), users, { ...users, rowId: '43' });
negative('data ciphertext bound to another row (wrap AAD correct)', text(binary(dataOnly)), dataAuth);
negative('ciphertext of another envelope spliced in', text(binary({ ...short, sealed: empty.sealed })), dataAuth);
negative('empty string', '', { class: 'EnvelopeFormatError', reason: 'empty' });
negative('empty buffer', Buffer.alloc(0), { class: 'EnvelopeFormatError', reason: 'empty' });
negative('prefix only', 'rk1:', { class: 'EnvelopeFormatError', reason: 'empty' });
negative('not base64', 'rk1:' + base.toString('base64url').slice(0, 40) + '*' + base.toString('base64url').slice(41), {
  class: 'EnvelopeFormatError',
  reason: 'not-base64',
});
negative('standard base64 with padding', 'rk1:' + base.toString('base64'), {
  class: 'EnvelopeFormatError',
  reason: 'not-base64',
});
negative('a Fernet token', 'gAAAAABlZ0123456789abcdefghijklmnopqrstuvwxyz', {
  class: 'EnvelopeFormatError',
  reason: 'bad-prefix',
});

if (existsSync(OUT) && !process.argv.includes('--force')) {
  console.error(`${OUT} exists: known-answer vectors are made once and kept forever. Not overwriting.`);
  process.exit(1);
}

const json = {
  description:
    'rekey envelope format v1 known-answer vectors (docs/envelope-format.md). Made once by test/vectors/generate.ts; never regenerate. ' +
    'The keys are TEST KEYS ONLY.',
  generated: new Date().toISOString().slice(0, 10),
  keys: Object.entries(keys).map(([id, key]) => ({ id, base64: key.toString('base64') })),
  vectors: positives.map(({ name, ctx, plaintext, parts }) => ({
    name,
    keyId: parts.keyId,
    context: ctx,
    plaintextHex: plaintext.toString('hex'),
    envelopeText: text(binary(parts)),
    envelopeHex: binary(parts).toString('hex'),
  })),
  negative: negatives.map(({ name, envelope, ctx, expect, destroyed }) => ({
    name,
    context: ctx,
    ...(typeof envelope === 'string' ? { envelopeText: envelope } : { envelopeHex: envelope.toString('hex') }),
    ...(destroyed ? { destroyedKeys: destroyed } : {}),
    expect,
  })),
};
writeFileSync(OUT, JSON.stringify(json, null, 2) + '\n');
console.log(`wrote ${json.vectors.length} vectors and ${json.negative.length} negative vectors to ${OUT}`);
