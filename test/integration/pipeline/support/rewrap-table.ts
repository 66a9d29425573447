import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import type { SqlPool } from '../../../../functions/core/ports/sql';
import { parseRegistry } from '../../../../functions/core/reencrypt/config/registry';
import { createEngineRuntime, type EngineRuntime } from '../../../../functions/runtime/engine-runtime';

/**
 * The table the pipeline-step suites rewrap: `s (id, v)` holding `rows`
 * envelopes under kek-v1, and an engine runtime on it whose primary is a new
 * kek-v2, so every row is work for a rewrap job.
 */
export async function rewrapTableRuntime(sql: SqlPool, rows: number): Promise<EngineRuntime> {
  await sql.query('CREATE TABLE s (id bigint PRIMARY KEY, v text)');
  const v1 = { id: 'kek-v1', key: randomBytes(32) };
  const v2 = { id: 'kek-v2', key: randomBytes(32) };
  const old = await EnvelopeCipher.create({ keyring: new RawKeyring([v1]) });
  for (let i = 1; i <= rows; i++)
    await sql.query('INSERT INTO s VALUES ($1, $2)', [
      i,
      await old.encrypt(`x${i}`, { table: 's', column: 'v', rowId: String(i) }),
    ]);
  return createEngineRuntime({
    sql,
    keyring: new RawKeyring([v2, v1]),
    registry: parseRegistry({ tables: [{ name: 's', idColumn: 'id', columns: ['v'] }] }),
    actor: 'test',
  });
}
