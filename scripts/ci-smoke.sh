#!/usr/bin/env bash
# CI smoke drop: the Node load runner starts a fresh engine of its own
# (scripts/lib/engine.mjs: scripts/start.mjs on its own port and state
# directory, ready once /api/health answers, stopped by its process group
# when the run ends, also on the budget's SIGTERM), runs 2,000 fans for 300 tickets over 4 shards and 4
# waiting-room lines against it, and fails unless nothing is oversold or lost,
# all 300 tickets are sold, D1 holds exactly what the shards sold, and every
# position a fan was told re-derives from the revealed seed (pre-queue) or is
# first come, first served (later joins). Several lines, so the pacer's
# sealing and the cross-line pre-queue layout are exercised even though 300
# tickets alone would get the engine's default of one line.
#
# Environment: SMOKE_PORT (default 8809), SMOKE_TIMEOUT seconds for the whole run,
# the engine's start included (default 540),
# SMOKE_LINES (default 4; not LINES, which shells use for the terminal height),
# and any knob of the runner (FANS, TICKETS, SHARDS, ...) to vary the drop.
set -euo pipefail
cd "$(dirname "$0")/.."

export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false NO_UPDATE_NOTIFIER=1
port="${SMOKE_PORT:-8809}"
budget="${SMOKE_TIMEOUT:-540}"
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/ticket-drop-smoke-XXXXXX")"
engine_log="$work_dir/engine.log"
trap 'rm -rf "$work_dir"' EXIT

echo "smoke: the load runner starts an engine on 127.0.0.1:$port"
status=0
# On the budget's end the runner gets SIGTERM and stops its engine before it exits.
timeout --signal=TERM --kill-after=30 "$budget" \
	node loadtest/node-runner.mjs --port "$port" --engine-log "$engine_log" \
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
