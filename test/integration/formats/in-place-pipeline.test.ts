import { runLocalPipeline } from '../../../functions/local/pipeline';
import { synthesizeStateMachineDefinition } from '../../../lib/synthesize-definition';
import { motoEndpoint } from '../../support/aws';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { expectReadableByApplications, keyStatus, REGISTRY, seedFormats } from './fixture';

/**
 * The same in-place rotation through the synthesized state machine, the real
 * handlers, SQS (moto) and PostgreSQL: the execution input names only the
 * mode; each table's format comes from the registry. Python reads every
 * rotated row with the new keys only, and both old keys end retired.
 */
const ROWS = 400;

describe('in-place rotation of Fernet and JSON key_id tables through the local state machine', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await migratedDatabase();
  });

  afterEach(async () => {
    await db?.drop();
  });

  it('rotates both formats in place, verifies and retires the old keys; nothing secret in any output', async () => {
    const fx = await seedFormats(db.sql, ROWS);
    const emitted: string[] = [];
    const record = (what: unknown): void => void emitted.push(typeof what === 'string' ? what : JSON.stringify(what));
    const spies = [
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
        jest.spyOn(console, m).mockImplementation((...args: unknown[]) => args.forEach(record)),
      ),
      jest
        .spyOn(process.stdout, 'write')
        .mockImplementation((chunk: string | Uint8Array) => (record(chunk.toString()), true)),
    ];
    let result: Awaited<ReturnType<typeof runLocalPipeline>>;
    try {
      result = await runLocalPipeline({
        input: { mode: 'rewrap', batchSize: 128 },
        databaseUrl: db.url,
        sqsEndpoint: motoEndpoint(),
        registry: REGISTRY,
        definition: synthesizeStateMachineDefinition(),
        keyEnv: fx.env,
        onEvent: (event) => record(event),
      });
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
    result.taskOutputs.forEach((t) => record(t.output));
    expect(result.error).toBeUndefined();
    expect(await expectReadableByApplications(db.sql, fx)).toBe(2 * ROWS);
    expect(await keyStatus(db.sql, fx.ids.fernetOld)).toBe('retired');
    expect(await keyStatus(db.sql, 'kek-v1')).toBe('retired');
    const job = (
      await db.sql.query<{ status: string; rows_done: string; verified_keys: Record<string, number> }>(
        'SELECT status, rows_done, verified_keys FROM rekey_jobs',
      )
    ).rows[0]!;
    expect(job.status).toBe('completed');
    expect(Number(job.rows_done)).toBe(2 * ROWS);
    expect(job.verified_keys[fx.ids.fernetOld] ?? 0).toBe(0);
    expect(job.verified_keys['kek-v1'] ?? 0).toBe(0);
    expect(job.verified_keys[fx.ids.fernetCurrent]).toBe(ROWS);
    expect(emitted.length).toBeGreaterThan(0);
    fx.assertNoSecrets(emitted.join('\n'));
  });
});
