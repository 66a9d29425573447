/**
 * Migration 0003: `rekey_known_tables`, every encrypted-column table rekey has
 * been configured with or worked on, with its registry entry as rekey parsed
 * it. Retiring or destroying a key counts the values under it in these
 * tables too, so a narrower config later (one table, `-t`) can never let a key
 * be destroyed while a table it no longer lists still holds values under it.
 * Configuration only: no value, plaintext or ciphertext is stored here.
 *
 * Also `rekey_jobs.verified_keys`: the values per key id that the job's Verify
 * counted over every known table, so Finalize retires on those counts instead
 * of scanning every table a second time (a 100 M-row table within Finalize's
 * timeout). Counts only.
 */
export const version = 3;
export const name = 'known_tables';

export const up = `
CREATE TABLE rekey_known_tables (
  table_key   text PRIMARY KEY,
  config      jsonb NOT NULL,
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE rekey_jobs ADD COLUMN verified_keys jsonb;
`;
