#!/usr/bin/env bash
# npm run test:reliability [-- --large]: the reliability scenarios (test/reliability) and their table of figures.
# `--large` runs them at the larger size; other arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for a in "$@"; do
  if [ "$a" = "--large" ]; then export REKEY_RELIABILITY_SIZE=large; else args+=("$a"); fi
done
# Paths first: --selectProjects takes every value after it as a project name.
exec npx jest --ci "${args[@]}" --selectProjects reliability
