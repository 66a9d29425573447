// First: every handler's Logger is built at DEBUG with whole events logged (imports are hoisted above any code here).
import '../handlers/log-everything';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { SQSEvent } from 'aws-lambda';
import { AwsKmsAdapter } from '../../functions/core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../../functions/core/adapters/aws-secrets';
import { main } from '../../functions/cli/main';
import type { CliIo } from '../../functions/cli/io';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../functions/core/crypto/envelope';
import { formatRawKey, RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import { kekContext } from '../../functions/core/crypto/keyrings/keyset';
import { parseKeyset } from '../../functions/core/crypto/keyrings/keyset-document';
import { fernetEncrypt } from '../../functions/core/crypto/legacy/fernet';
import { StaticKeyPolicy } from '../../functions/core/crypto/key-policy';
import { AWSCURRENT } from '../../functions/core/ports/secrets';
import { KEYSET_BOOTSTRAP_FORMAT, ROTATION_STEPS } from '../../functions/core/rotation/rotate';
import { handler as rotation } from '../../functions/handlers/rotation';
import { resetRotationContainer } from '../../functions/runtime/rotation-container';
import { runLocalPipeline, type LocalHandler } from '../../functions/local/pipeline';
import { synthesizeStateMachineDefinition } from '../../lib/synthesize-definition';
import { awsClientConfig, motoEndpoint } from '../support/aws';
import { lambdaContext } from '../support/lambda';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../support/database';
import { motoRotationLambda, startMotoRotation } from '../integration/rotation/moto-rotation';
import { recordFigure } from './support/figures';

/**
 * No plaintext anywhere: canary secrets go through every mode of the
 * synthesized state machine (migrate, encrypt — the mode that reads
 * plaintext from the database —, rewrap, reencrypt) with the real handlers at
 * DEBUG (whole events logged) and their EMF metrics on, batches through
 * moto's SQS; through the CLI (text and --json, errors included); and the
 * keyset rotation hook, whose canaries are the KEKs themselves. Every log
 * line, metric document, queue body, task and state output, thrown error, CLI
 * output and rekey_* table row is scanned for every canary and key.
 */
const ROWS = 24;
const CANARY = /canary-[0-9a-f]{8}-/;
const canaryOf = (kind: string, id: number): string => `canary-${randomBytes(4).toString('hex')}-${kind}-${id}`;
const keys = {
  v1: randomBytes(32),
  v2: randomBytes(32),
  v3: randomBytes(32),
  fernet: randomBytes(32),
  json: randomBytes(32),
};
const ctx = (table: string, column: string, id: number) => ({ table, column, rowId: String(id), tenant: null });

describe('no plaintext anywhere', () => {
  let db: TestDatabase;
  /** Everything scanned, by place. */
  const places: Record<string, string[]> = {};
  const planted: string[] = [];
  const record = (place: string, what: unknown): void =>
    void (places[place] ??= []).push(typeof what === 'string' ? what : (JSON.stringify(what) ?? String(what)));
  let spies: jest.SpyInstance[] = [];

  const capture = (): void => {
    spies = [
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
        jest.spyOn(console, m).mockImplementation((...args: unknown[]) => args.forEach((a) => record('logs', a))),
      ),
      jest
        .spyOn(process.stdout, 'write')
        .mockImplementation(
          (chunk: string | Uint8Array) => (
            record(String(chunk).includes('"_aws"') ? 'metrics (EMF)' : 'logs', chunk.toString()),
            true
          ),
        ),
      jest
        .spyOn(process.stderr, 'write')
        .mockImplementation((chunk: string | Uint8Array) => (record('logs', chunk.toString()), true)),
    ];
  };
  const release = (): void => {
    spies.forEach((s) => s.mockRestore());
    spies = [];
  };

  beforeAll(async () => {
    requireRealPostgres('the state machine runs its workers on their own connections');
    db = await migratedDatabase({ poolSize: 4 });
  });
  afterAll(async () => {
    release();
    await db.drop();
  });

  it('every mode, the CLI and the rotation hook: canaries planted, places scanned, none found', async () => {
    // users: plaintext emails (encrypt mode) and one plaintext that an application wrongly wrote into the encrypted column.
    await db.sql.query('CREATE TABLE users (id bigint PRIMARY KEY, email text, email_encrypted text)');
    await db.sql.query('CREATE TABLE legacy_tokens (id bigint PRIMARY KEY, token text)');
    const emails = new Map<number, string>();
    for (let i = 1; i <= ROWS; i++) {
      const email = canaryOf('email', i);
      emails.set(i, email);
      planted.push(email);
      await db.sql.query('INSERT INTO users (id, email) VALUES ($1, $2)', [i, email]);
    }
    // legacy_tokens: Fernet and JSON key_id canaries (migrate mode), one Fernet token under a key nobody has (a row error).
    const tokens = new Map<number, string>();
    for (let i = 1; i <= ROWS; i++) {
      const secret = canaryOf('token', i);
      tokens.set(i, secret);
      planted.push(secret);
      const value =
        i === ROWS
          ? fernetEncrypt(randomBytes(32), secret)
          : i % 2
            ? fernetEncrypt(keys.fernet, secret)
            : jsonValue(keys.json, 'kek-json', secret);
      await db.sql.query('INSERT INTO legacy_tokens VALUES ($1, $2)', [i, value]);
    }
    const registry = {
      tables: [
        {
          name: 'users',
          idColumn: 'id',
          columns: ['email_encrypted'],
          encrypt: { email: { target: 'email_encrypted', clearSource: true } },
        },
        { name: 'legacy_tokens', idColumn: 'id', columns: ['token'] },
      ],
    };
    const definition = synthesizeStateMachineDefinition();
    const keyEnv = (primary: 'v1' | 'v2' | 'v3', previous: ('v1' | 'v2')[]): Record<string, string> => ({
      SECRETS_ENCRYPTION_KEY: formatRawKey(`kek-${primary}`, keys[primary]),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: [
        ...previous.map((p) => formatRawKey(`kek-${p}`, keys[p])),
        formatRawKey('kek-json', keys.json),
      ].join(','),
      ENCRYPTION_KEY: keys.fernet.toString('base64url'),
    });

    const statuses: Record<string, string> = {};
    const runMode = async (mode: string, env: Record<string, string>): Promise<void> => {
      const wrap =
        (name: string, handler: LocalHandler): LocalHandler =>
        async (event, context) => {
          if (name === 'Worker')
            for (const r of (event as SQSEvent).Records) record('queue messages (SQS bodies)', r.body);
          try {
            return await handler(event, context);
          } catch (err) {
            record('thrown errors', `${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack ?? ''}`);
            throw err;
          }
        };
      capture();
      try {
        const run = await runLocalPipeline({
          input: { mode, maxErrorRate: 0.5 },
          databaseUrl: db.url,
          sqsEndpoint: motoEndpoint(),
          registry,
          definition,
          keyEnv: env,
          metrics: true,
          wrap,
          onEvent: (event) => {
            record('state-machine payloads', event);
          },
        });
        run.taskOutputs.forEach((t) => record('state-machine payloads', t.output));
        if (run.error) record('thrown errors', run.error);
        record('state-machine payloads', run.output);
        statuses[mode] =
          (
            await db.sql.query<{ status: string }>(
              'SELECT status FROM rekey_jobs WHERE NOT dry_run ORDER BY created_at DESC LIMIT 1',
            )
          ).rows[0]?.status ?? 'none';
      } finally {
        release();
      }
    };

    await runMode('migrate', keyEnv('v1', []));
    await runMode('encrypt', keyEnv('v1', []));
    // An application bug writes a canary in clear into the encrypted column: rewrap must record it without quoting it.
    const leaked = canaryOf('leaked', 1);
    planted.push(leaked);
    await db.sql.query('UPDATE users SET email_encrypted = $1 WHERE id = 3', [leaked]);
    await runMode('rewrap', keyEnv('v2', ['v1']));
    await runMode('reencrypt', keyEnv('v3', ['v2', 'v1']));
    // Each ends with errors by design: the Fernet token under an unknown key stays a row error in every mode, the leaked plaintext from rewrap on.
    expect(statuses).toEqual({
      migrate: 'completed_with_errors',
      encrypt: 'completed_with_errors',
      rewrap: 'completed_with_errors',
      reencrypt: 'completed_with_errors',
    });

    // The encrypt-mode results decrypt to the plaintexts (now under kek-v3 after the rotations).
    const reader = new EnvelopeCipher({
      keyring: new RawKeyring(
        [
          { id: 'kek-v3', key: keys.v3 },
          { id: 'kek-v2', key: keys.v2 },
          { id: 'kek-v1', key: keys.v1 },
        ],
        'kek-v3',
      ),
      policy: StaticKeyPolicy.fromKeyIds('kek-v3', ['kek-v2', 'kek-v1']),
    });
    const { rows: users } = await db.sql.query<{ id: string; email: string | null; email_encrypted: string }>(
      'SELECT id::text AS id, email, email_encrypted FROM users ORDER BY id',
    );
    let decrypted = 0;
    for (const u of users) {
      if (u.id === '3') continue; // the leaked plaintext, recorded as a row error
      expect(u.email).toBeNull(); // clearSource: the plaintext column is emptied
      expect(peekKeyId(u.email_encrypted)).toBe('kek-v3');
      if (
        (await reader.decrypt(u.email_encrypted, ctx('users', 'email_encrypted', Number(u.id)))).toString() ===
        emails.get(Number(u.id))
      )
        decrypted++;
    }
    expect(decrypted).toBe(ROWS - 1);
    const { rows: legacy } = await db.sql.query<{ id: string; token: string }>(
      'SELECT id::text AS id, token FROM legacy_tokens ORDER BY id',
    );
    let migrated = 0;
    for (const t of legacy) {
      if (t.id === String(ROWS)) continue; // the Fernet token under an unknown key stays as it was
      if (
        (await reader.decrypt(t.token, ctx('legacy_tokens', 'token', Number(t.id)))).toString() ===
        tokens.get(Number(t.id))
      )
        migrated++;
    }
    expect(migrated).toBe(ROWS - 1);

    // The CLI on the same database: text and --json, a failing verify --decrypt included.
    const dir = mkdtempSync(join(tmpdir(), 'rekey-scan-'));
    try {
      writeFileSync(join(dir, 'rekey.config.json'), JSON.stringify(registry));
      const env = { PATH: process.env.PATH, DATABASE_URL: db.url, USER: 'canary', ...keyEnv('v3', ['v2', 'v1']) };
      for (const args of [
        ['verify', '--decrypt'],
        ['verify', '--decrypt', '--json'],
        ['inventory'],
        ['inventory', '--json'],
        ['status'],
        ['status', '--json'],
        ['reencrypt', '-n'],
        ['reencrypt', '--mode', 'reencrypt', '--json'],
        ['keys', 'list', '--json'],
        ['keys', 'destroy', 'kek-v1', '--yes'],
      ]) {
        let out = '';
        const io: CliIo = {
          stdout: (t) => void (out += t),
          stderr: (t) => void (out += t),
          isTTY: false,
          env,
          cwd: dir,
        };
        await main(['--config', join(dir, 'rekey.config.json'), ...args], io).catch((err: unknown) =>
          record('thrown errors', String(err)),
        );
        record('CLI output (stdout/stderr, text and --json)', out);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // What rekey stored about the runs: jobs, batches, row errors, audit log.
    for (const table of ['rekey_jobs', 'rekey_job_batches', 'rekey_row_errors', 'rekey_audit_log', 'rekey_keys']) {
      const { rows } = await db.sql.query(`SELECT * FROM ${table}`);
      for (const r of rows) record('rekey_* tables (jobs, batches, row errors, audit)', r);
    }

    // The keyset rotation hook: its canaries are the KEKs it makes (plaintext only inside KMS and memory).
    const kekCanaries = await rotateKeysetThroughHook(record, capture, release);

    const secrets = [
      ...planted,
      ...Object.values(keys).flatMap((k) => [k.toString('base64'), k.toString('base64url'), k.toString('hex')]),
      ...kekCanaries,
    ];
    const found: string[] = [];
    for (const [place, items] of Object.entries(places)) {
      const text = items.join('\n');
      const hit = CANARY.exec(text);
      if (hit) found.push(`${place}: …${text.slice(Math.max(0, hit.index - 300), hit.index + 60)}…`);
      for (const s of secrets) if (text.includes(s)) found.push(`${place}: a key or canary (${s.slice(0, 6)}…)`);
    }
    expect(planted.every((c) => CANARY.test(c))).toBe(true); // the scan's pattern matches every canary planted
    const scanned = Object.keys(places).sort();
    recordFigure({
      area: 'No plaintext',
      figure: 'canaries planted (rows, keys, KEKs)',
      value: `${planted.length} + ${Object.keys(keys).length} keys + ${kekCanaries.length / 3} KEKs`,
      goal: '—',
    });
    recordFigure({
      area: 'No plaintext',
      figure: 'places scanned (items)',
      value: `${scanned.length} (${Object.values(places).reduce((a, v) => a + v.length, 0)})`,
      goal: '8',
    });
    recordFigure({ area: 'No plaintext', figure: 'canaries found', value: String(found.length), goal: '0' });
    expect(scanned).toEqual([
      'CLI output (stdout/stderr, text and --json)',
      'logs',
      'metrics (EMF)',
      'queue messages (SQS bodies)',
      'rekey_* tables (jobs, batches, row errors, audit)',
      'rotation hook (logs, metrics, results)',
      'state-machine payloads',
      'thrown errors',
    ]);
    expect(found).toEqual([]);
    expect(places['logs']!.join('\n')).toMatch(/Lambda invocation event/); // the scan saw the handlers' whole events
  });
});

/** A JSON key_id value in the runbook tool's layout (docs/legacy-formats.md). */
function jsonValue(kek: Buffer, keyId: string, plaintext: string): string {
  const seal = (key: Buffer, data: Buffer): { nonce: Buffer; out: Buffer } => {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    return { nonce, out: Buffer.concat([c.update(data), c.final(), c.getAuthTag()]) };
  };
  const dek = randomBytes(32);
  const wrapped = seal(kek, dek);
  const sealed = seal(dek, Buffer.from(plaintext));
  return JSON.stringify({
    version: 1,
    alg: 'AES-256-GCM',
    key_id: keyId,
    dek_wrapped: Buffer.concat([wrapped.nonce, wrapped.out]).toString('base64'),
    nonce: sealed.nonce.toString('base64'),
    ciphertext: sealed.out.toString('base64'),
  });
}

/**
 * Two rotations of a keyset secret through the rotation Lambda's handler
 * (moto Secrets Manager, KMS and Step Functions; the catalog on PostgreSQL),
 * every step called twice, at DEBUG. Returns each KEK's plaintext (base64,
 * base64url, hex), unwrapped here through KMS, to be searched for.
 */
async function rotateKeysetThroughHook(
  record: (place: string, what: unknown) => void,
  capture: () => void,
  release: () => void,
): Promise<string[]> {
  const db = await migratedDatabase();
  const saved = { ...process.env };
  const config = awsClientConfig();
  try {
    const sm = new SecretsManagerClient(config);
    const kmsClient = new KMSClient(config);
    const kmsKeyArn = (await kmsClient.send(new CreateKeyCommand({ Description: 'rekey canary' }))).KeyMetadata!.Arn!;
    const secretArn = (
      await sm.send(
        new CreateSecretCommand({
          Name: `rekey-keyset-hook-${randomUUID()}`,
          SecretString: JSON.stringify({ format: KEYSET_BOOTSTRAP_FORMAT, version: 1, kmsKeyId: kmsKeyArn }),
        }),
      )
    ).ARN!;
    const stateMachineArn = (
      await new SFNClient(config).send(
        new CreateStateMachineCommand({
          name: `rekey-hook-${randomUUID().slice(0, 8)}`,
          roleArn: 'arn:aws:iam::123456789012:role/rekey-states',
          definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        }),
      )
    ).stateMachineArn!;
    const lambdaArn = await motoRotationLambda();
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: motoEndpoint(),
      AWS_REGION: config.region,
      AWS_ACCESS_KEY_ID: config.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey,
      DATABASE_URL: db.url,
      STATE_MACHINE_ARN: stateMachineArn,
      KEYSET_SECRET_ARN: secretArn,
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    await resetRotationContainer();
    const context = lambdaContext('rotation', { remainingMs: 60_000 });
    capture();
    try {
      for (let n = 0; n < 2; n++) {
        const token = await startMotoRotation(secretArn, lambdaArn);
        for (const Step of ROTATION_STEPS) {
          for (let call = 0; call < 2; call++) {
            const result = await rotation(
              { Step, SecretId: secretArn, ClientRequestToken: token, RotationToken: `rt-${token}` },
              context,
            ).catch((err: unknown) => {
              record('thrown errors', String(err));
              throw err;
            });
            record('rotation hook (logs, metrics, results)', result);
          }
        }
      }
    } finally {
      release();
    }
    // The hook's own log lines went to 'logs'; also file them under the hook's place.
    const keyset = parseKeyset(
      (await new AwsSecretsAdapter(sm).getSecretValue({ secretId: secretArn, versionStage: AWSCURRENT })).string,
    );
    expect(keyset.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    const kms = new AwsKmsAdapter(kmsClient);
    const out: string[] = [];
    for (const k of keyset.keys) {
      const kek = await kms.decrypt({ ciphertextBlob: k.wrapped, keyId: keyset.kmsKeyId, context: kekContext(k.id) });
      out.push(kek.toString('base64'), kek.toString('base64url'), kek.toString('hex'));
      kek.fill(0);
    }
    return out;
  } finally {
    await resetRotationContainer();
    process.env = { ...saved };
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    await db.drop();
  }
}
