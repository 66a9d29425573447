import type { KmsPort } from '../../../../functions/core/ports/kms';
import {
  KeysetFormatError,
  KeysetUpdateError,
  kekContext,
  type Keyset,
} from '../../../../functions/core/crypto/keyrings/keyset';
import {
  addKeyVersion,
  createKeyset,
  generateWrappedKek,
  nextKeyId,
  removeKey,
  setPrimary,
} from '../../../../functions/core/crypto/keyrings/keyset-changes';
import { parseKeyset, serializeKeyset } from '../../../../functions/core/crypto/keyrings/keyset-document';

const CREATED = '2025-01-02T03:04:05.000Z';

function keyset(ids: string[], primary = ids[ids.length - 1] as string): Keyset {
  return {
    format: 'rekey-keyset',
    version: 1,
    kmsKeyId: 'alias/rekey',
    primary,
    keys: ids.map((id, i) => ({ id, wrapped: Buffer.from(`wrapped-${id}-${i}`), createdAt: CREATED })),
  };
}

function problemsOf(json: string): readonly string[] {
  try {
    parseKeyset(json, 'secret "unit"');
  } catch (err) {
    expect(err).toBeInstanceOf(KeysetFormatError);
    return (err as KeysetFormatError).problems;
  }
  throw new Error('parseKeyset accepted the document');
}

describe('parseKeyset / serializeKeyset', () => {
  it('round-trips a keyset through its JSON document', () => {
    const original = keyset(['kek-v1', 'kek-v2']);
    const json = serializeKeyset(original);
    expect(JSON.parse(json)).toEqual({
      format: 'rekey-keyset',
      version: 1,
      kmsKeyId: 'alias/rekey',
      primary: 'kek-v2',
      keys: [
        { id: 'kek-v1', wrapped: Buffer.from('wrapped-kek-v1-0').toString('base64'), createdAt: CREATED },
        { id: 'kek-v2', wrapped: Buffer.from('wrapped-kek-v2-1').toString('base64'), createdAt: CREATED },
      ],
    });
    const parsed = parseKeyset(json);
    expect(parsed.primary).toBe('kek-v2');
    expect(parsed.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    expect(parsed.keys[1]?.wrapped.equals(Buffer.from('wrapped-kek-v2-1'))).toBe(true);
  });

  it('lists every problem of a malformed document at once, each with its path', () => {
    const doc = {
      format: 'rekey-keyring',
      version: 2,
      primary: 'kek-v9',
      extra: true,
      keys: [
        { id: 'kek-v1', wrapped: 'not base64!', createdAt: CREATED },
        { id: 'kek-v1', wrapped: 'AAAA', createdAt: 'yesterday' },
        { id: 'has space', wrapped: 5, createdAt: CREATED, colour: 'red' },
        'kek-v4',
      ],
    };
    expect(problemsOf(JSON.stringify(doc))).toEqual([
      'unknown field "extra"',
      'format: expected "rekey-keyset", got "rekey-keyring"',
      'version: 2 is not supported (this build reads version 1)',
      'kmsKeyId: missing',
      'keys[0].wrapped: not base64',
      'keys[1].createdAt: "yesterday" is not an ISO 8601 timestamp',
      'keys[2]: unknown field "colour"',
      'keys[2].id: "has space" is not a valid key id (expected ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$)',
      'keys[2].wrapped: expected a base64 string, got a number',
      'keys[3]: expected an object, got a string',
      'primary: "kek-v9" is not one of the keys',
    ]);
  });

  it('names duplicates, missing fields and empty key lists', () => {
    const dup = {
      format: 'rekey-keyset',
      version: 1,
      kmsKeyId: 'k',
      primary: 'a',
      keys: [
        { id: 'a', wrapped: 'AAAA', createdAt: CREATED },
        { id: 'a', wrapped: 'AAAA', createdAt: CREATED },
      ],
    };
    expect(problemsOf(JSON.stringify(dup))).toEqual(['keys[1].id: duplicate id "a"']);
    expect(
      problemsOf(JSON.stringify({ format: 'rekey-keyset', version: 1, kmsKeyId: 'k', primary: 'a', keys: [] })),
    ).toEqual(['keys: empty (a keyset holds at least its primary key)', 'primary: "a" is not one of the keys']);
    expect(problemsOf('{}')).toEqual([
      'format: missing (expected "rekey-keyset")',
      'version: missing (expected 1)',
      'kmsKeyId: missing',
      'keys: missing',
      'primary: missing',
    ]);
    expect(
      problemsOf(JSON.stringify({ format: 'rekey-keyset', version: 1, kmsKeyId: 'k', primary: 'a', keys: [{}] })),
    ).toEqual([
      'keys[0].id: missing',
      'keys[0].wrapped: missing',
      'keys[0].createdAt: missing',
      'primary: "a" is not one of the keys',
    ]);
  });

  it('refuses what is not a JSON object, without echoing the text', () => {
    const secretish = 'kek-v1:c2VjcmV0IG1hdGVyaWFsIHRoYXQgbXVzdCBub3QgbGVhaw==';
    let message = '';
    try {
      parseKeyset(secretish, 'secret "unit"');
    } catch (err) {
      expect(err).toBeInstanceOf(KeysetFormatError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/^keyset in secret "unit" is invalid \(1 problem\): not valid JSON/);
    expect(message).not.toContain('c2VjcmV0');
    expect(problemsOf('[]')).toEqual(['the document must be a JSON object, not an array']);
    expect(problemsOf('null')).toEqual(['the document must be a JSON object, not null']);
  });

  it('cuts long strings short in messages', () => {
    const long = 'x'.repeat(500);
    const problems = problemsOf(
      JSON.stringify({
        format: long,
        version: 1,
        kmsKeyId: 'k',
        primary: 'a',
        keys: [{ id: 'a', wrapped: 'AAAA', createdAt: CREATED }],
      }),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`${'x'.repeat(40)}...`);
    expect(problems[0]?.length).toBeLessThan(120);
  });

  it('will not serialize a keyset that would not parse', () => {
    expect(() => serializeKeyset({ ...keyset(['kek-v1']), primary: 'kek-v7' })).toThrow(KeysetFormatError);
  });
});

describe('keyset helpers', () => {
  it('nextKeyId follows the highest kek-vN, gaps and foreign ids included', () => {
    expect(nextKeyId(keyset(['kek-v1', 'kek-v2']))).toBe('kek-v3');
    expect(nextKeyId(keyset(['kek-v1', 'kek-v7', 'kek-v3']))).toBe('kek-v8');
    expect(nextKeyId(keyset(['legacy', 'kek-v01']))).toBe('kek-v1');
  });

  it('addKeyVersion appends, optionally as primary, without touching its input', () => {
    const before = keyset(['kek-v1']);
    const added = addKeyVersion(
      before,
      { id: 'kek-v2', wrapped: Buffer.from('w2') },
      { makePrimary: false, now: () => new Date(CREATED) },
    );
    expect(added.primary).toBe('kek-v1');
    expect(added.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    expect(added.keys[1]?.createdAt).toBe(CREATED);
    expect(before.keys).toHaveLength(1);
    expect(addKeyVersion(before, { id: 'kek-v2', wrapped: Buffer.from('w2') }, { makePrimary: true }).primary).toBe(
      'kek-v2',
    );
    expect(() => addKeyVersion(before, { id: 'kek-v1', wrapped: Buffer.from('w') }, { makePrimary: true })).toThrow(
      KeysetUpdateError,
    );
    expect(() => addKeyVersion(before, { id: 'bad id', wrapped: Buffer.from('w') }, { makePrimary: true })).toThrow(
      /not valid/,
    );
  });

  it('removeKey refuses the primary and unknown ids; setPrimary refuses unknown ids', () => {
    const ks = keyset(['kek-v1', 'kek-v2']);
    expect(removeKey(ks, 'kek-v1').keys.map((k) => k.id)).toEqual(['kek-v2']);
    expect(() => removeKey(ks, 'kek-v2')).toThrow(/it is the primary key/);
    expect(() => removeKey(ks, 'kek-v9')).toThrow(/not in the keyset/);
    expect(setPrimary(ks, 'kek-v1').primary).toBe('kek-v1');
    expect(() => setPrimary(ks, 'kek-v9')).toThrow(KeysetUpdateError);
  });
});

describe('generateWrappedKek / createKeyset', () => {
  /** Records what KMS Encrypt was asked to do; the integration tests use real KMS (moto). */
  function recordingKms(): {
    kms: KmsPort;
    seen: { keyId: string; context: Record<string, string>; plaintext: Buffer; copy: Buffer }[];
  } {
    const seen: { keyId: string; context: Record<string, string>; plaintext: Buffer; copy: Buffer }[] = [];
    const refuse = (): never => {
      throw new Error('not used');
    };
    const kms: KmsPort = {
      generateDataKey: async () => refuse(),
      decrypt: async () => refuse(),
      reEncrypt: async () => refuse(),
      encrypt: async ({ keyId, plaintext, context }) => {
        seen.push({ keyId, context: { ...context }, plaintext, copy: Buffer.from(plaintext) });
        return Buffer.concat([Buffer.from('ct:'), Buffer.from(keyId)]);
      },
    };
    return { kms, seen };
  }

  it('wraps a fresh 32-byte KEK under the KMS key with its purpose and id, then zeroes it', async () => {
    const { kms, seen } = recordingKms();
    const kek = await generateWrappedKek(kms, 'alias/rekey', 'kek-v3', { now: () => new Date(CREATED) });
    expect(kek).toEqual({ id: 'kek-v3', wrapped: Buffer.from('ct:alias/rekey'), createdAt: CREATED });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.keyId).toBe('alias/rekey');
    expect(seen[0]?.context).toEqual(kekContext('kek-v3'));
    expect(seen[0]?.context).toEqual({ purpose: 'rekey-kek', keyId: 'kek-v3' });
    expect(seen[0]?.copy).toHaveLength(32);
    expect(seen[0]?.copy.equals(Buffer.alloc(32))).toBe(false);
    expect(seen[0]?.plaintext.equals(Buffer.alloc(32))).toBe(true);
  });

  it('creates a one-key keyset that serializes', async () => {
    const { kms, seen } = recordingKms();
    const ks = await createKeyset(kms, 'arn:aws:kms:eu-west-1:111122223333:key/abc', { firstId: 'kek-v1' });
    expect(ks.primary).toBe('kek-v1');
    expect(ks.keys.map((k) => k.id)).toEqual(['kek-v1']);
    expect(parseKeyset(serializeKeyset(ks)).kmsKeyId).toBe('arn:aws:kms:eu-west-1:111122223333:key/abc');
    expect(seen).toHaveLength(1);
    await expect(generateWrappedKek(kms, 'k', 'no spaces allowed')).rejects.toThrow(KeysetUpdateError);
  });
});
