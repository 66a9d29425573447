import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EncryptionContext } from '../../functions/core/crypto/context';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import { requirePython, runPythonJson } from '../support/python';

/**
 * clients/python/rekey_rk1.py, rekey's envelope for Python: its own unittest
 * against the known-answer vectors, then values crossed with the TypeScript
 * library both ways — TypeScript writes, Python reads; Python writes,
 * TypeScript reads — text and binary, with and without a tenant. A missing
 * python3/cryptography fails these tests (test/support/python.ts).
 */
const CLIENT = join(__dirname, '../../clients/python');

describe('clients/python rk1 module', () => {
  it('passes its unittest suite against test/vectors/envelope-v1.json', () => {
    requirePython('the Python rk1 client tests');
    const run = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', CLIENT, '-v'], { encoding: 'utf8' });
    expect(run.stderr).toMatch(/Ran [5-9]\d* tests/);
    expect(run.stderr).toContain('\nOK');
    expect(run.status).toBe(0);
  });

  const keys = { 'kek-v1': randomBytes(32), 'kek-v2': randomBytes(32) };
  const keyring = new RawKeyring([
    { id: 'kek-v2', key: keys['kek-v2'] },
    { id: 'kek-v1', key: keys['kek-v1'] },
  ]);
  const b64 = Object.fromEntries(Object.entries(keys).map(([id, k]) => [id, k.toString('base64')]));
  const items = Array.from({ length: 24 }, (_, i) => ({
    plaintext: i === 0 ? Buffer.alloc(0) : Buffer.from(`secret-${i}-${'é'.repeat(i)}`, 'utf8'),
    context: {
      table: 'users',
      column: i % 2 ? 'email' : 'ssn',
      rowId: String(1000 + i),
      ...(i % 3 === 0 ? { tenant: `tenant-${i}` } : {}),
    } as EncryptionContext,
    output: i % 4 === 0 ? ('binary' as const) : ('text' as const),
  }));

  it('reads what the TypeScript library writes', async () => {
    const cipher = await EnvelopeCipher.create({ keyring });
    const written = await Promise.all(
      items.map((it) => cipher.encrypt(it.plaintext, it.context, { output: it.output })),
    );
    const read = runPythonJson<{ plaintextsHex: string[] }>(
      'interop.py',
      {
        op: 'decrypt',
        keys: b64,
        primary: 'kek-v2',
        items: written.map((v, i) => ({
          ...(typeof v === 'string' ? { value: v } : { hex: Buffer.from(v).toString('hex') }),
          context: items[i]!.context,
        })),
      },
      join(CLIENT, 'interop.py'),
    );
    expect(read.plaintextsHex).toEqual(items.map((it) => it.plaintext.toString('hex')));
  });

  it('writes what the TypeScript library reads (and binds the context: another row fails)', async () => {
    const made = runPythonJson<{ values: (string | { hex: string })[] }>(
      'interop.py',
      {
        op: 'encrypt',
        keys: b64,
        primary: 'kek-v2',
        items: items.map((it) => ({
          plaintextHex: it.plaintext.toString('hex'),
          context: it.context,
          output: it.output,
        })),
      },
      join(CLIENT, 'interop.py'),
    );
    const cipher = await EnvelopeCipher.create({ keyring });
    for (const [i, v] of made.values.entries()) {
      const stored = typeof v === 'string' ? v : Buffer.from(v.hex, 'hex');
      expect(typeof v === 'string').toBe(items[i]!.output === 'text');
      expect((await cipher.decrypt(stored, items[i]!.context)).equals(items[i]!.plaintext)).toBe(true);
    }
    await expect(
      cipher.decrypt(made.values[1] as string, { ...items[1]!.context, rowId: '9999' }),
    ).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED' });
  });
});
