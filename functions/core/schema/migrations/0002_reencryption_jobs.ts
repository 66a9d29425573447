/**
 * Migration 0002: the re-encryption engine's job records.
 *
 * - `rekey_jobs`: one row per re-encryption job (mode, target key, status,
 *   counters, timestamps; `execution_id` makes creation idempotent per
 *   state-machine execution). `rows_total` counts the rows planned for change. Status changes are checked by a trigger against the
 *   lifecycle in functions/core/reencrypt/jobs/job-status.ts (a unit test keeps the
 *   two lists equal), so no code path can move a finished job back to running.
 * - `rekey_job_batches`: the keyset ranges (lo, hi] of a job, one row per
 *   batch, with its lease (worker, lease_until), attempts, counters, and when
 *   it was sent to the queue (enqueued_at). The
 *   counters of a batch and of its job change in the same transaction as the
 *   batch's status, so a batch delivered twice counts once.
 * - `rekey_row_errors`: rows that could not be brought to the target key, with
 *   the error code and message, never the value. Unique per job, table, row and
 *   column, so a redelivered batch does not duplicate them.
 *
 * Ids and counts only: no table here ever holds a plaintext or a ciphertext.
 */
export const version = 2;
export const name = 'reencryption_jobs';

export const up = `
CREATE TABLE rekey_jobs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  execution_id     text UNIQUE,
  mode             text NOT NULL CHECK (mode IN ('rewrap', 'reencrypt', 'encrypt', 'migrate')),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN
                     ('pending', 'planning', 'running', 'verifying', 'completed', 'completed_with_errors', 'failed', 'aborted')),
  dry_run          boolean NOT NULL DEFAULT false,
  tables           text[] NOT NULL,
  options          jsonb NOT NULL DEFAULT '{}'::jsonb,
  target_key_id    text NOT NULL,
  source_key_ids   text[] NOT NULL DEFAULT '{}',
  retired_key_ids  text[] NOT NULL DEFAULT '{}',
  batch_size       integer NOT NULL CHECK (batch_size > 0),
  max_error_rate   double precision NOT NULL CHECK (max_error_rate >= 0 AND max_error_rate <= 1),
  abort_min_rows   integer NOT NULL DEFAULT 1000 CHECK (abort_min_rows >= 0),
  plan             jsonb,
  rows_total       bigint NOT NULL DEFAULT 0,
  rows_done        bigint NOT NULL DEFAULT 0,
  rows_failed      bigint NOT NULL DEFAULT 0,
  rows_skipped     bigint NOT NULL DEFAULT 0,
  rows_conflicted  bigint NOT NULL DEFAULT 0,
  batches_total    integer NOT NULL DEFAULT 0,
  batches_done     integer NOT NULL DEFAULT 0,
  requested_by     text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  heartbeat_at     timestamptz,
  error            text
);
CREATE INDEX rekey_jobs_status ON rekey_jobs (status, created_at);

CREATE FUNCTION rekey_jobs_check_transition() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND (OLD.status, NEW.status) NOT IN (
    ('pending', 'planning'), ('pending', 'failed'), ('pending', 'aborted'),
    ('planning', 'running'), ('planning', 'completed'), ('planning', 'failed'), ('planning', 'aborted'),
    ('running', 'verifying'), ('running', 'failed'), ('running', 'aborted'),
    ('verifying', 'completed'), ('verifying', 'completed_with_errors'), ('verifying', 'failed'),
    ('failed', 'planning'), ('failed', 'running')
  ) THEN
    RAISE EXCEPTION 'rekey_jobs %: cannot go from % to %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER rekey_jobs_transition BEFORE UPDATE OF status ON rekey_jobs
  FOR EACH ROW EXECUTE FUNCTION rekey_jobs_check_transition();

CREATE TABLE rekey_job_batches (
  job_id           uuid NOT NULL REFERENCES rekey_jobs (id) ON DELETE CASCADE,
  table_name       text NOT NULL,
  seq              integer NOT NULL CHECK (seq >= 0),
  pass             integer NOT NULL DEFAULT 1 CHECK (pass >= 1),
  lo               text,
  hi               text,
  id_type          text NOT NULL CHECK (id_type IN ('smallint', 'integer', 'bigint', 'uuid', 'text')),
  rows_planned     integer NOT NULL DEFAULT 0,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  rows_done        integer NOT NULL DEFAULT 0,
  rows_failed      integer NOT NULL DEFAULT 0,
  rows_skipped     integer NOT NULL DEFAULT 0,
  rows_conflicted  integer NOT NULL DEFAULT 0,
  worker           text,
  lease_until      timestamptz,
  enqueued_at      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  error            text,
  PRIMARY KEY (job_id, table_name, seq)
);
CREATE INDEX rekey_job_batches_claim ON rekey_job_batches (job_id, status, pass, seq);

CREATE TABLE rekey_row_errors (
  job_id           uuid NOT NULL REFERENCES rekey_jobs (id) ON DELETE CASCADE,
  table_name       text NOT NULL,
  row_id           text NOT NULL,
  column_name      text NOT NULL,
  code             text NOT NULL,
  message          text NOT NULL,
  at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, table_name, row_id, column_name)
);
`;

/** Status pairs the trigger above allows; kept equal to JOB_TRANSITIONS by a unit test. */
export const allowedTransitions: readonly (readonly [string, string])[] = [...up.matchAll(/\('(\w+)', '(\w+)'\)/g)]
  .filter((m) => m.index !== undefined && m.index > up.indexOf('NOT IN (') && m.index < up.indexOf('THEN'))
  .map((m) => [m[1]!, m[2]!] as const);
