/**
 * Crypto benchmark: rekey's field encryption beside the AWS Encryption SDK for
 * JavaScript and Fernet, plus the primitive costs behind the figures.
 *
 *   npm run bench:crypto                     # 2 s per case after 0.5 s warm-up
 *   npm run bench:crypto -- --seconds 5      # longer runs
 *   npm run bench:crypto -- --only rekey     # cases whose name matches a regex
 *   npm run bench:crypto -- --rounds 3       # every case 3 times, interleaved; median and range
 *
 * One operation at a time on one thread: every figure is per core. Prints one
 * table; docs/performance.md records a run and what the optimizations bought.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  buildClient,
} from '@aws-crypto/client-node';
import { open, sealInto } from '../functions/core/crypto/aead';
import { encodeContext } from '../functions/core/crypto/context-encoding';
import { fromText, toText } from '../functions/core/crypto/envelope';
import { dataAadFromEncoded, wrapAadFromEncoded } from '../functions/core/crypto/envelope-aad';
import { EnvelopeCipher } from '../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../functions/core/crypto/keyrings/raw';
import { RandomPool } from '../functions/core/crypto/random-pool';
import { createFieldEncryption } from '../functions/core/field-encryption';
import { StaticKeyPolicy } from '../functions/core/crypto/key-policy';
import { BenchFernet } from './lib/fernet';
import { option } from './lib/bench-options';
import { measure, type Measurement } from './lib/measure';
import { NaiveEnvelope } from './lib/naive-envelope';

interface Case {
  readonly group: 'rekey' | 'comparison' | 'primitive';
  readonly name: string;
  readonly op: () => unknown;
  /** Printed beside the figure: a target (≥) or a yardstick from DESIGN.md. */
  readonly target?: number;
  readonly yardstick?: string;
}

/** Figures measured outside the project on this kind of machine (../shared/DESIGN.md, issue 2). */
const YARDSTICKS = {
  prototypeRoundTrip: 'prototype 33k/s',
  prototypeRewrap: 'prototype 64k/s',
  sdkDefault: 'DESIGN ~185/s',
  sdkUnsigned: 'DESIGN ~1.4k/s',
  pythonFernet: 'Python ~31k/s',
};

async function main(): Promise<void> {
  const seconds = Number(option('seconds', '2'));
  const warmupSeconds = Number(option('warmup', '0.5'));
  const only = new RegExp(option('only', '.'), 'i');
  const rounds = Math.max(1, Math.floor(Number(option('rounds', '1'))));

  const kek1 = randomBytes(32);
  const kek2 = randomBytes(32);
  const keyring = new RawKeyring([
    { id: 'kek-v2', key: kek2 },
    { id: 'kek-v1', key: kek1 },
  ]);
  const app = await createFieldEncryption({ keyring });
  const cipher = app.cipher;
  // For rewrap/reencrypt: the values start under kek-v1 (retired), the target is kek-v2 (active).
  const before = new EnvelopeCipher({ keyring, policy: StaticKeyPolicy.fromKeyIds('kek-v1', ['kek-v2']) });

  const ctx = { table: 'users', column: 'email', rowId: '1234567' };
  const text64 = 'x'.repeat(64);
  const text1k = 'y'.repeat(1024);
  const bytes64 = Buffer.from(text64);
  const value150 = 'z'.repeat(150); // the engine benchmark's typical field size
  const oldEnvelope = await before.encrypt(value150, ctx);

  const naive = new NaiveEnvelope(new Map([['kek-v2', kek2]]), 'kek-v2');
  if ((await cipher.decrypt(naive.encrypt(text64, ctx), ctx)).toString() !== text64)
    throw new Error('naive envelope is not format-compatible');

  // AWS Encryption SDK for JavaScript, raw AES keyring.
  const sdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const sdkKeyring = new RawAesKeyringNode({
    keyName: 'kek-v2',
    keyNamespace: 'rekey-bench',
    unencryptedMasterKey: new Uint8Array(kek2),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const sdkContext = { table: ctx.table, column: ctx.column, rowId: ctx.rowId };
  const sdkRoundTrip = (plaintext: Buffer, suiteId: AlgorithmSuiteIdentifier) => async () => {
    const { result } = await sdk.encrypt(sdkKeyring, plaintext, { encryptionContext: sdkContext, suiteId });
    const { plaintext: out } = await sdk.decrypt(sdkKeyring, result);
    if (out.length !== plaintext.length) throw new Error('sdk round trip');
  };
  const signed = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
  const unsigned = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

  const fernet = new BenchFernet(randomBytes(32));

  // Primitive costs.
  const pool = new RandomPool();
  const nonce = randomBytes(12);
  const kekObject = createSecretKey(kek2);
  const aad = wrapAadFromEncoded(1, 'kek-v2', encodeContext(ctx));
  const out = Buffer.alloc(64 + 16);
  const sealed64 = Buffer.alloc(80);
  sealInto(kek2, nonce, bytes64, aad, sealed64, 0);
  const sampleText = toText(fromText(oldEnvelope));
  const rawGcm = (key: Buffer | typeof kekObject, options?: { authTagLength: number }) => () => {
    const c = createCipheriv('aes-256-gcm', key, nonce, options);
    c.setAAD(aad);
    c.update(bytes64);
    c.final();
    return c.getAuthTag();
  };

  const cases: Case[] = [
    {
      group: 'rekey',
      name: 'rekey field encrypt+decrypt 64 B (text, fresh data key)',
      op: async () => app.decryptField(await app.encryptField(text64, ctx), ctx),
      target: 30_000,
      yardstick: YARDSTICKS.prototypeRoundTrip,
    },
    {
      group: 'rekey',
      name: 'rekey field encrypt+decrypt 1 KiB (text, fresh data key)',
      op: async () => app.decryptField(await app.encryptField(text1k, ctx), ctx),
    },
    {
      group: 'rekey',
      name: 'rekey encrypt+decrypt 64 B (binary form)',
      op: async () => cipher.decrypt(await cipher.encrypt(bytes64, ctx), ctx),
    },
    {
      group: 'rekey',
      name: 'rekey rewrap 150 B value (kek-v1 -> kek-v2)',
      op: () => cipher.rewrap(oldEnvelope, ctx, 'kek-v2'),
      target: 60_000,
      yardstick: YARDSTICKS.prototypeRewrap,
    },
    {
      group: 'rekey',
      name: 'rekey reencrypt 150 B value (kek-v1 -> kek-v2)',
      op: () => cipher.reencrypt(oldEnvelope, ctx, 'kek-v2'),
    },
    {
      group: 'rekey',
      name: 'same format, naive code: encrypt+decrypt 64 B',
      op: () => naive.decrypt(naive.encrypt(text64, ctx), ctx),
    },
    {
      group: 'comparison',
      name: 'AWS Encryption SDK default suite (signed) 64 B',
      op: sdkRoundTrip(bytes64, signed),
      yardstick: YARDSTICKS.sdkDefault,
    },
    {
      group: 'comparison',
      name: 'AWS Encryption SDK default suite (signed) 1 KiB',
      op: sdkRoundTrip(Buffer.from(text1k), signed),
    },
    {
      group: 'comparison',
      name: 'AWS Encryption SDK unsigned committing suite 64 B',
      op: sdkRoundTrip(bytes64, unsigned),
      yardstick: YARDSTICKS.sdkUnsigned,
    },
    {
      group: 'comparison',
      name: 'AWS Encryption SDK unsigned committing suite 1 KiB',
      op: sdkRoundTrip(Buffer.from(text1k), unsigned),
    },
    {
      group: 'comparison',
      name: 'Fernet (node:crypto) encrypt+decrypt 64 B',
      op: () => fernet.decrypt(fernet.encrypt(bytes64)),
      yardstick: YARDSTICKS.pythonFernet,
    },
    {
      group: 'comparison',
      name: 'Fernet (node:crypto) encrypt+decrypt 1 KiB',
      op: () => fernet.decrypt(fernet.encrypt(Buffer.from(text1k))),
    },
    { group: 'primitive', name: 'crypto.randomBytes(12)', op: () => randomBytes(12) },
    { group: 'primitive', name: 'RandomPool 12 bytes (4 KiB pool)', op: () => pool.fill(out, 0, 12) },
    { group: 'primitive', name: 'GCM seal 64 B, key Buffer', op: rawGcm(kek2) },
    { group: 'primitive', name: 'GCM seal 64 B, key Buffer, authTagLength', op: rawGcm(kek2, { authTagLength: 16 }) },
    {
      group: 'primitive',
      name: 'GCM seal 64 B, KeyObject, authTagLength',
      op: rawGcm(kekObject, { authTagLength: 16 }),
    },
    {
      group: 'primitive',
      name: 'GCM cipher set-up only (createCipheriv)',
      op: () => createCipheriv('aes-256-gcm', kek2, nonce),
    },
    {
      group: 'primitive',
      name: 'GCM open 64 B (aead.open)',
      op: () => open(kek2, nonce, sealed64, aad, 'ciphertext'),
    },
    {
      group: 'primitive',
      name: 'GCM decipher set-up only (createDecipheriv)',
      op: () => createDecipheriv('aes-256-gcm', kek2, nonce),
    },
    {
      group: 'primitive',
      name: 'context encode + wrap AAD + data AAD',
      op: () => {
        const e = encodeContext(ctx);
        return [wrapAadFromEncoded(1, 'kek-v2', e), dataAadFromEncoded(1, e)];
      },
    },
    {
      group: 'primitive',
      name: 'text envelope decode+encode (rk1: base64url, 150 B)',
      op: () => toText(fromText(sampleText)),
    },
  ];

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`rekey crypto benchmark — ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${cpu}, ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `${seconds} s per case after ${warmupSeconds} s warm-up, one operation at a time (one core)` +
      (rounds > 1 ? `; ${rounds} interleaved rounds, median shown with the range` : '') +
      '\n',
  );

  // Rounds are interleaved (every case once, then again) so a burst of load
  // from other processes hits one round of many cases, not every round of one.
  const selected = cases.filter((k) => only.test(k.name) || only.test(k.group));
  const runs = new Map<Case, Measurement[]>(selected.map((c) => [c, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const c of selected) {
      runs.get(c)!.push(await measure(c.name, c.op, { seconds, warmupSeconds }));
      process.stderr.write(`  round ${round}: ${c.name}\n`);
    }
  }
  const results = selected.map((c) => {
    const sorted = [...runs.get(c)!].sort((a, b) => a.opsPerSecond - b.opsPerSecond);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return { ...c, ...median, low: sorted[0]!.opsPerSecond, high: sorted[sorted.length - 1]!.opsPerSecond };
  });
  console.log(table(results, rounds > 1));
}

type Row = Measurement & Case & { low: number; high: number };

const thousands = (n: number): string => Math.round(n).toLocaleString('en-US');

function table(rows: Row[], withRange: boolean): string {
  const header = ['case', 'ops/s', ...(withRange ? ['range ops/s'] : []), 'µs/op', 'target / yardstick'];
  const numeric = new Set(withRange ? [1, 2, 3] : [1, 2]);
  const lines = rows.map((r) => [
    r.name,
    thousands(r.opsPerSecond),
    ...(withRange ? [`${thousands(r.low)}–${thousands(r.high)}`] : []),
    r.microsPerOp.toFixed(2),
    [r.target ? `≥ ${thousands(r.target)}: ${r.opsPerSecond >= r.target ? 'met' : 'NOT MET'}` : '', r.yardstick ?? '']
      .filter(Boolean)
      .join('; '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: string[]) =>
    '| ' + cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') + ' |';
  const rule =
    '|' + widths.map((w, i) => (numeric.has(i) ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  const groups = ['rekey', 'comparison', 'primitive'];
  const body = groups.flatMap((g) => rows.flatMap((r, i) => (r.group === g ? [fmt(lines[i] as string[])] : [])));
  return [fmt(header), rule, ...body].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
