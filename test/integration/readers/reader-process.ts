/**
 * An application process for the rollout-gate tests: the library with the
 * raw keyring from its environment, registered as a reader (heartbeat every
 * READER_INTERVAL seconds). It proves it works by encrypting and decrypting
 * one value, prints its reader id, and on SIGTERM closes cleanly (its row is
 * removed); SIGKILL leaves the row to go stale.
 */
import { createPgSql } from '../../../functions/core/adapters/pg/sql';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { createFieldEncryption } from '../../../functions/core/field-encryption';

async function main(): Promise<void> {
  const sql = createPgSql({ connectionString: process.env.DATABASE_URL!, max: 1 });
  const rekey = await createFieldEncryption({
    keyring: RawKeyring.fromEnv(process.env),
    readers: {
      sql,
      intervalSeconds: Number(process.env.READER_INTERVAL ?? 1),
      host: process.env.READER_HOST,
      onError: (e) => process.stderr.write(`heartbeat: ${String(e)}\n`),
    },
  });
  const where = { table: 't', column: 'secret', rowId: '1' };
  const ok = (await rekey.decryptField(await rekey.encryptField('probe', where), where)) === 'probe';
  process.stdout.write(`${JSON.stringify({ readerId: rekey.reader?.readerId ?? null, ok })}\n`);
  process.on('SIGTERM', () => {
    void rekey
      .close()
      .then(() => sql.close())
      .then(() => process.exit(0));
  });
  setInterval(() => undefined, 1 << 30); // the heartbeat timer is unref'd: keep the "application" running
}

void main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
