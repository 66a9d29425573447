#!/usr/bin/env bash
# Runs before `npm test` (the `pretest` script). The integration tests need a
# PostgreSQL server (DATABASE_URL, or initdb/pg_ctl to start a throwaway
# cluster) and moto_server. Machines of this project's kind ship both; on one
# that lacks the server binaries, install them from Debian when we can.
set -u
if [ -n "${DATABASE_URL:-}" ]; then exit 0; fi
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  :
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[pretest] no PostgreSQL server binaries: installing Debian's postgresql" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "[pretest] could not install postgresql; the harness will say what it can run" >&2
else
  echo "[pretest] no PostgreSQL server binaries and no way to install them: set DATABASE_URL" >&2
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "[pretest] moto_server is not on PATH: the KMS/Secrets Manager/SQS suites need it (pip install 'moto[server]')" >&2
fi
exit 0
