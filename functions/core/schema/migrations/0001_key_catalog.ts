/**
 * Migration 0001: the key catalog and the audit log.
 *
 * - `rekey_keys`: one row per key version (id, keyring kind, KMS key ARN,
 *   optional tenant, lifecycle status and timestamps). The database itself
 *   guarantees exactly one active key per tenant scope (partial unique index)
 *   and refuses lifecycle changes outside KEY_TRANSITIONS (trigger) — defense
 *   in depth beside the checks in keys/catalog.ts.
 * - `rekey_audit_log`: who did what, when, to which key or job; ids and counts
 *   only. Row-level security scopes rows by tenant for non-owner roles: a
 *   session sees the rows of the tenant in `rekey.tenant`, or only global
 *   rows when it is unset. Set it inside the transaction that reads, with
 *   `SELECT set_config('rekey.tenant', '…', true)`: over the Data API a
 *   session-level `SET` does not reach the next call (docs/data-api.md). The
 *   table owner (the role rekey migrates and runs as) is not subject to it.
 *
 * The literal below must never change once released: the runner checks it.
 */
export const version = 1;
export const name = 'key_catalog';

export const up = `
CREATE TABLE rekey_keys (
  id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  keyring       text NOT NULL CHECK (keyring IN ('raw', 'kms', 'hierarchical')),
  kms_key_arn   text,
  tenant        text CHECK (tenant IS NULL OR length(tenant) BETWEEN 1 AND 128),
  status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'active', 'rotating', 'retired', 'destroyed')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  activated_at  timestamptz,
  rotated_at    timestamptz,
  retired_at    timestamptz,
  destroyed_at  timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX rekey_keys_one_active_per_scope
  ON rekey_keys ((coalesce(tenant, ''))) WHERE status = 'active';

CREATE INDEX rekey_keys_tenant ON rekey_keys (tenant);

CREATE FUNCTION rekey_keys_guard_transition() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.id IS DISTINCT FROM OLD.id THEN
    RAISE EXCEPTION 'rekey_keys.id is immutable (key %)', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('pending', 'active'), ('pending', 'destroyed'),
      ('active', 'rotating'),
      ('rotating', 'retired'), ('rotating', 'active'),
      ('retired', 'active'), ('retired', 'destroyed')) THEN
    RAISE EXCEPTION 'invalid key transition for %: % -> %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$fn$;

CREATE TRIGGER rekey_keys_guard_transition
  BEFORE UPDATE ON rekey_keys
  FOR EACH ROW EXECUTE FUNCTION rekey_keys_guard_transition();

CREATE TABLE rekey_audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 256),
  action      text NOT NULL CHECK (action ~ '^[a-z_]+\\.[a-z_.]+$'),
  subject     text NOT NULL,
  tenant      text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX rekey_audit_log_subject ON rekey_audit_log (subject, at);
CREATE INDEX rekey_audit_log_tenant_at ON rekey_audit_log (tenant, at);

ALTER TABLE rekey_audit_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY rekey_audit_log_tenant_scope ON rekey_audit_log
  USING (tenant IS NOT DISTINCT FROM nullif(current_setting('rekey.tenant', true), ''))
  WITH CHECK (tenant IS NOT DISTINCT FROM nullif(current_setting('rekey.tenant', true), ''));
`;
