import { randomBytes } from 'node:crypto';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { createDataApiSql } from '../../../functions/core/adapters/data-api-sql';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { DATA_API_CALLS_PER_BATCH } from '../../../functions/core/plan/estimate';
import { executeBatch } from '../../../functions/core/reencrypt/batches/batch-executor';
import { listBatches } from '../../../functions/core/reencrypt/store/job-store';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs/jobs';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { migrate } from '../../../functions/core/schema/migrate';
import { createEngineRuntime } from '../../../functions/runtime/engine-runtime';
import { startDataApiServer, type DataApiServer } from '../../../functions/local/services/data-api/server';
import { freshDatabase, testPoolSize, type TestDatabase } from '../../support/database';

/**
 * The plan's Data API figure per batch against the real thing: one default
 * batch (2,000 rows of ~150-byte envelopes) run by the engine through the
 * Data API adapter and the RDSDataClient, counting the requests the
 * PostgreSQL-backed Data API endpoint served. If the engine's statements
 * change, this fails until DATA_API_CALLS_PER_BATCH is measured again.
 */
describe('Data API calls per batch', () => {
  let db: TestDatabase;
  let server: DataApiServer;

  beforeEach(async () => {
    db = await freshDatabase();
    server = await startDataApiServer(db.url, { maxConnections: testPoolSize(8) });
  });
  afterEach(async () => {
    await server.close();
    await db.drop();
  });

  it('a default batch makes about DATA_API_CALLS_PER_BATCH requests', async () => {
    const client = new RDSDataClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const sql = createDataApiSql({
      client,
      resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:rekey',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey-db',
      database: 'rekey',
      baseDelayMs: 1,
    });
    await migrate(sql);
    const v1 = { id: 'kek-v1', key: randomBytes(32) };
    const v2 = { id: 'kek-v2', key: randomBytes(32) };
    await db.sql.query('CREATE TABLE s (id bigint PRIMARY KEY, v text)');
    const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([v1]) });
    const ids: string[] = [];
    const values: string[] = [];
    for (let i = 1; i <= 4000; i++) {
      ids.push(String(i));
      values.push(await cipher.encrypt(`sk-${i}-${'x'.repeat(40)}`, { table: 's', column: 'v', rowId: String(i) }));
    }
    await db.sql.query('INSERT INTO s SELECT * FROM unnest($1::bigint[], $2::text[])', [ids, values]);
    const registry = parseRegistry({ tables: [{ name: 's', idColumn: 'id', columns: ['v'] }] });
    const runtime = await createEngineRuntime({ sql, keyring: new RawKeyring([v2, v1]), registry, actor: 'plan-test' });
    const job = await createJob(runtime.deps, { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'plan-test' });
    await planJob(runtime.deps, job.id);
    const [first] = await listBatches(sql, job.id);
    const total = (): number => Object.values(server.calls).reduce((a, n) => a + n, 0);
    const before = total();
    const result = await executeBatch(runtime.deps, job.id, { table: first!.table, seq: first!.seq });
    const measured = total() - before;
    expect(result.outcome).toBe('done');
    expect(result.counts.done).toBe(2000);
    process.stderr.write(
      `Data API requests for one 2,000-row batch: ${measured} (${JSON.stringify(server.calls)}); the plan counts ${DATA_API_CALLS_PER_BATCH}\n`,
    );
    expect(measured).toBeGreaterThanOrEqual(Math.floor(DATA_API_CALLS_PER_BATCH * 0.75));
    expect(measured).toBeLessThanOrEqual(Math.ceil(DATA_API_CALLS_PER_BATCH * 1.25));
    await runtime.close();
  });
});
