/**
 * Migration 0004: `rekey_readers`, the rollout gate's heartbeats. Every
 * process that decrypts rekey values (an application using the library, a
 * Lambda function of the stack, the CLI) keeps one row: which key ids it can
 * decrypt, which keyset version it holds, the key it encrypts new values
 * with, and when it last said so. `rekey keys activate` refuses while a live
 * reader cannot read the key; `rekey keys retire` refuses while a live reader
 * still encrypts with the key. Key ids and host names only, never material.
 *
 * A reader is live while `last_seen` is within three of its own heartbeat
 * intervals; a process that stops cleanly deletes its row.
 */
export const version = 4;
export const name = 'readers';

export const up = `
CREATE TABLE rekey_readers (
  reader_id         text PRIMARY KEY CHECK (length(reader_id) BETWEEN 1 AND 200),
  kind              text NOT NULL CHECK (kind IN ('library', 'lambda', 'cli', 'worker')),
  host              text NOT NULL,
  pid               integer,
  key_ids           text[] NOT NULL,
  keyset_version    text,
  primary_key_id    text,
  interval_seconds  integer NOT NULL CHECK (interval_seconds > 0),
  started_at        timestamptz NOT NULL DEFAULT now(),
  last_seen         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rekey_readers_last_seen ON rekey_readers (last_seen);
`;
