#!/usr/bin/env bash
# test.sh sets Arbor up (setup.sh), then runs the fast checks (typecheck, lint, format check and
# the unit tier: *.spec.ts, no root) and, only if they pass, the integration tier (*.int.spec.ts:
# namespaces, cgroups, runc, Docker). It ends with one line over both tiers:
# 'N passed, N failed, N skipped'.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# What only the tests need: a Docker engine (images are built with dockerode), Debian's
# registry v2 server (the tests start it on loopback), skopeo/umoci (compared against),
# systemd for `systemd-analyze verify scripts/arbord.service` (works without systemd as pid 1).
# shellcheck source=scripts/lib.sh
. ./scripts/lib.sh
apt_install docker.io docker-registry skopeo umoci runc systemd
start_dockerd

export TURBO_TELEMETRY_DISABLED=1
export ARBOR_TEST_RESULTS_DIR
ARBOR_TEST_RESULTS_DIR=$(mktemp -d /tmp/arbor-test-results.XXXXXX)

summarize() { node scripts/summarize-tests.js "$ARBOR_TEST_RESULTS_DIR"; }

# fail_fast names the check that failed and still ends with the summary line; a check that is
# not a test tier (typecheck, lint, format) counts there as one failure.
fail_fast() {
  echo "test.sh: $1 failed; the integration tier did not run"
  [ "${2:-}" = tests ] || printf '{"package":"check: %s","tier":"","passed":0,"failed":1,"skipped":0,"suitesFailed":0}' "${1%% (*}" >"$ARBOR_TEST_RESULTS_DIR/_failed-check.json"
  summarize || true
  exit 1
}

pnpm turbo run typecheck --output-logs=errors-only || fail_fast 'typecheck (pnpm typecheck)'
# the format check runs beside lint (each takes one core for ~15 s); its output shows if it fails
format_log="$ARBOR_TEST_RESULTS_DIR/format-check.log"
pnpm format:check >"$format_log" 2>&1 &
format_check=$!
pnpm lint || fail_fast 'lint (pnpm lint)'
wait "$format_check" || { cat "$format_log"; fail_fast 'format check (pnpm format:check; pnpm format fixes it)'; }
# the unit tier runs two packages at a time (each jest with its default workers): no test of it
# shares host resources; more at once on a 2-core host makes CPU-bound tests (the gzip bomb) time out
pnpm turbo run test:unit --continue --concurrency=2 || fail_fast 'the unit tier (pnpm test:unit)' tests

status=0
# one package at a time: integration tests share the host's cgroups, mounts, links and chains
pnpm turbo run test:integration --continue --concurrency=1 || status=$?
summarize || status=1
exit "$status"
