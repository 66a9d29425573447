/**
 * An application process for the concurrent-writers scenario
 * (concurrent-writers.test.ts): the library API (createFieldEncryption) and
 * its own pg connections, updating rows of the vault while a rotation runs.
 *
 * Run as `node --require tsx/cjs app-writer.ts`, with DATABASE_URL and the
 * raw keys (SECRETS_ENCRYPTION_KEY = the new primary, _PREVIOUS = the old
 * one) in the environment and `<rows> <minUpdates> <lanes> <seed> <out.json>`
 * as arguments. Rows are split among lanes (each row has one writer, so
 * "the latest value" of a row is well defined); each update writes
 * `vault-<id>-<generation>`, four in five under the new key, one in five
 * under the old one (an instance that has not picked up the new key yet).
 * It writes at least `minUpdates` and goes on until stdin closes (the
 * rotation ended), then writes `{ latest: [[id, value]…], stamps: [ms…] }`.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { createFieldEncryption } from '../../../functions/core/field-encryption';
import { COLUMN, ctxOf, VAULT } from './vault';
import { seededRandom } from '../../support/random';

async function main(): Promise<void> {
  const [rows, minUpdates, lanes, seed, out] = process.argv.slice(2);
  const rowCount = Number(rows);
  const lib = await createFieldEncryption({ keyring: RawKeyring.fromEnv(process.env) });
  // An instance still on the old key: the same keys with the previous one as its primary.
  const old = await createFieldEncryption({
    keyring: RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: process.env.SECRETS_ENCRYPTION_KEY_PREVIOUS,
      SECRETS_ENCRYPTION_KEY_PREVIOUS: process.env.SECRETS_ENCRYPTION_KEY,
    }),
  });
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(lanes),
    application_name: 'app-writer',
  });
  let stdinOpen = true;
  process.stdin.on('end', () => void (stdinOpen = false)).resume();

  const latest = new Map<number, string>();
  const stamps: number[] = [];
  let generation = 0;
  let done = 0;
  const lane = async (laneNo: number): Promise<void> => {
    const random = seededRandom(Number(seed) + laneNo);
    const mine = Array.from({ length: rowCount }, (_, i) => i + 1).filter((id) => id % Number(lanes) === laneNo);
    // Every row of the lane once in a random order, then random rows, until enough and the rotation is over.
    for (let i = mine.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [mine[i], mine[j]] = [mine[j]!, mine[i]!];
    }
    for (let k = 0; done < Number(minUpdates) || stdinOpen; k++) {
      const id = k < mine.length ? mine[k]! : mine[Math.floor(random() * mine.length)]!;
      const value = `vault-${id}-${++generation}`;
      const stored = await (random() < 0.8 ? lib : old).encryptField(value, ctxOf(id));
      await pool.query(`UPDATE ${VAULT} SET ${COLUMN} = $2 WHERE id = $1`, [id, stored]);
      latest.set(id, value);
      stamps.push(Date.now());
      // Progress for the test, which keeps rotating until enough updates ran during rotations.
      if (++done % 250 === 0) process.stderr.write(`app-writer: ${done}\n`);
    }
  };
  process.stderr.write('app-writer: writing\n');
  await Promise.all(Array.from({ length: Number(lanes) }, (_, i) => lane(i)));
  await pool.end();
  writeFileSync(out!, JSON.stringify({ latest: [...latest], stamps }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`app-writer failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
