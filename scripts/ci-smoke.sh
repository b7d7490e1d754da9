#!/usr/bin/env bash
# CI smoke drop: starts a fresh engine (scripts/start.mjs, its own port and
# state directory), runs the Node load runner against it (2,000 fans for 300
# tickets over 4 shards and 4 waiting-room lines) and fails unless nothing is
# oversold or lost, all 300 tickets are sold, D1 holds exactly what the shards
# sold, and every position a fan was told re-derives from the revealed seed
# (pre-queue) or is first come, first served (later joins). Several lines, so
# the pacer's sealing and the cross-line pre-queue layout are exercised even
# though 300 tickets alone would get the engine's default of one line. The
# engine is stopped by its pid however the run ends.
#
# Environment: SMOKE_PORT (default 8809), SMOKE_TIMEOUT seconds (default 420),
# SMOKE_LINES (default 4; not LINES, which shells use for the terminal height),
# and any knob of the runner (FANS, TICKETS, SHARDS, ...) to vary the drop.
set -euo pipefail
cd "$(dirname "$0")/.."

export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false NO_UPDATE_NOTIFIER=1
port="${SMOKE_PORT:-8809}"
budget="${SMOKE_TIMEOUT:-420}"
state_dir="$(mktemp -d "${TMPDIR:-/tmp}/ticket-drop-smoke-XXXXXX")"
engine_log="$state_dir/engine.log"
ADMIN_TOKEN="$(node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))')"
export ADMIN_TOKEN

engine_pid=""
stop_engine() {
	if [[ -n "$engine_pid" ]] && kill -0 "$engine_pid" 2>/dev/null; then
		# start.mjs stops wrangler and workerd (their process group) on SIGTERM.
		kill -TERM "$engine_pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$engine_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$engine_pid" 2>/dev/null || true
	fi
	rm -rf "$state_dir"
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

echo "smoke: starting the engine on 127.0.0.1:$port"
PORT="$port" STATE_DIR="$state_dir/state" SEED_DEMO=false VAR_RATE_LIMIT_LOOPBACK_EXEMPT=true \
	node scripts/start.mjs >"$engine_log" 2>&1 &
engine_pid=$!

for _ in $(seq 1 240); do
	if grep -q "Ctrl-C stops the engine" "$engine_log" 2>/dev/null; then break; fi
	if ! kill -0 "$engine_pid" 2>/dev/null; then
		echo "smoke: the engine exited during start:" >&2
		cat "$engine_log" >&2
		exit 1
	fi
	sleep 0.5
done
if ! grep -q "Ctrl-C stops the engine" "$engine_log"; then
	echo "smoke: the engine did not start within 120 s:" >&2
	cat "$engine_log" >&2
	exit 1
fi

status=0
timeout --signal=TERM --kill-after=15 "$budget" \
	node loadtest/node-runner.mjs --base-url "http://127.0.0.1:$port" \
	--fans "${FANS:-2000}" --tickets "${TICKETS:-300}" --shards "${SHARDS:-4}" --lines "${SMOKE_LINES:-4}" \
	--lead-seconds "${LEAD_SECONDS:-5}" --spread-seconds "${SPREAD_SECONDS:-10}" \
	--batch-size "${BATCH_SIZE:-50}" --hold-seconds "${HOLD_SECONDS:-30}" || status=$?

if [[ $status -ne 0 ]]; then
	mkdir -p loadtest/reports
	kept="loadtest/reports/ci-smoke-engine-$(date -u +%Y%m%dT%H%M%SZ).log"
	cp "$engine_log" "$kept" 2>/dev/null || true
	echo "smoke: FAILED (exit $status); engine log kept in $kept; its errors:" >&2
	grep -iE "error|exception|failed" "$engine_log" | tail -n 40 >&2 || true
fi
exit "$status"
