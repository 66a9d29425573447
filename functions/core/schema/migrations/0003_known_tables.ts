/**
 * Migration 0003: `rekey_known_tables`, every encrypted-column table rekey has
 * been configured with or worked on, with its registry entry as rekey parsed
 * it. Retiring or destroying a key counts the values under it in these
 * tables too, so a narrower config later (one table, `-t`) can never let a key
 * be destroyed while a table it no longer lists still holds values under it.
 * Configuration only: no value, plaintext or ciphertext is stored here.
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
`;
