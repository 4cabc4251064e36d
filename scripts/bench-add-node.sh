#!/usr/bin/env bash
# bench-add-node.sh: how long it takes to add a fourth node to a running
# 3-node cluster that holds many partitions. Not run by the tests: it starts
# real processes and takes minutes.
#
# Per run, on a fresh cluster (three `yakt server` processes on 127.0.0.1):
#   1. register 3 brokers and create TOPICS topics of PER_TOPIC partitions at
#      replication factor 3 through the HTTP API (POST /v1/brokers, /v1/topics);
#   2. start node 4 with --join and time (a): from its start until its applied
#      index (yakt_raft_applied_index on its /metrics) reaches the leader's
#      commit index, i.e. it is an observer that has caught up;
#   3. time (b): `yakt quorum add-voter --node-id 4 --http-address ...` until
#      it returns;
#   4. stop every process and remove the directory.
# Prints one line per run and the medians, with the load average before and
# after each run.
#
# Usage: scripts/bench-add-node.sh            (builds ./cmd/yakt)
#        YAKT=/path/to/yakt RUNS=3 TOPICS=10 PER_TOPIC=10000 scripts/bench-add-node.sh
# Needs curl and awk. BASE_PORT (17300) picks the ports: peers on BASE_PORT+1..4,
# HTTP on BASE_PORT+11..14.
set -euo pipefail

RUNS=${RUNS:-3}
TOPICS=${TOPICS:-10}
PER_TOPIC=${PER_TOPIC:-10000}
BASE_PORT=${BASE_PORT:-17300}
KEEP=${KEEP:-}   # non-empty: keep the data directories (for a post-mortem)

work=$(mktemp -d /tmp/yakt-bench-add-node.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -z "$KEEP" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${YAKT:-}" ]; then
	YAKT=$work/yakt
	(cd "$(dirname "$0")/.." && go build -o "$YAKT" ./cmd/yakt)
fi

peer() { echo "127.0.0.1:$((BASE_PORT + $1))"; }
http() { echo "127.0.0.1:$((BASE_PORT + 10 + $1))"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
metric() { # metric NODE NAME: the value of an unlabelled metric, or -1 (not up yet)
	{ curl -s --max-time 2 "http://$(http "$1")/metrics" || true; } | awk -v n="$2" '$1 == n { printf "%d", $2; f = 1 } END { if (!f) print -1 }'
}
leader() { { curl -s --max-time 2 "http://$(http 1)/v1/quorum" || true; } | sed -n 's/.*"leaderId":\([0-9-]*\).*/\1/p'; }
wait_ready() { # wait_ready NODE: until GET /readyz answers 200 (a read barrier)
	for _ in $(seq 1 600); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$(http "$1")/readyz")" = 200 ] && return 0
		sleep 0.1
	done
	echo "node $1 not ready after 60 s; its log:" >&2
	tail -20 "$dir/log$1" >&2
	return 1
}
post() { # post NODE PATH BODY: retried while the cluster has no leader
	for _ in $(seq 1 60); do
		code=$(curl -s -o "$dir/post.out" -w '%{http_code}' --max-time 120 -XPOST "http://$(http "$1")$2" \
			-H 'Content-Type: application/json' -d "$3")
		case $code in
		2??) return 0 ;;
		503 | 504 | 000) sleep 1 ;;
		*) echo "POST $2: $code $(cat "$dir/post.out")" >&2; return 1 ;;
		esac
	done
	return 1
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $($YAKT version | head -1)"
echo "cluster: 3 voters, $TOPICS topics x $PER_TOPIC partitions, replication factor 3, 3 brokers"
as=() bs=()
for run in $(seq 1 "$RUNS"); do
	dir=$work/run$run
	mkdir -p "$dir"
	load0=$(cut -d' ' -f1 /proc/loadavg)
	voters="1@$(peer 1),2@$(peer 2),3@$(peer 3)"
	# A long session timeout keeps the three brokers ALIVE without heartbeats:
	# fencing them would rewrite every partition's leader and ISR meanwhile.
	for i in 1 2 3; do
		"$YAKT" server --node-id "$i" --data-dir "$dir/n$i" --cluster-id "bench-add-node-$run" \
			--voters "$voters" --listen-peer "$(peer "$i")" --listen-http "$(http "$i")" \
			--broker-session-timeout 1h >"$dir/log$i" 2>&1 &
		pids+=($!)
	done
	for i in 1 2 3; do wait_ready "$i"; done
	for b in 1 2 3; do
		post 1 /v1/brokers "{\"brokerId\":$b,\"brokerHost\":\"127.0.0.1\",\"brokerPort\":$((9090 + b)),\"securityProtocol\":\"PLAINTEXT\",\"rackId\":\"r$b\"}"
	done
	t=$(now)
	for k in $(seq 1 "$TOPICS"); do
		post $((k % 3 + 1)) /v1/topics "{\"name\":\"fill-$k\",\"partitions\":$PER_TOPIC,\"replicationFactor\":3}"
	done
	for i in 1 2 3; do wait_ready "$i"; done
	fill=$(since "$t")
	l=$(leader)

	t=$(now)
	"$YAKT" server --node-id 4 --data-dir "$dir/n4" --listen-peer "$(peer 4)" --listen-http "$(http 4)" \
		--join "$(http 1),$(http 2),$(http 3)" --broker-session-timeout 1h >"$dir/log4" 2>&1 &
	pids+=($!)
	deadline=$(($(date +%s) + 300))
	while :; do
		target=$(metric "$l" yakt_raft_commit_index)
		got=$(metric 4 yakt_raft_applied_index)
		[ "$got" -ge 0 ] && [ "$got" -ge "$target" ] && [ "$target" -gt 0 ] && break
		if [ "$(date +%s)" -gt "$deadline" ]; then
			echo "node 4 did not catch up in 5 minutes (applied $got, leader's commit $target); its log:" >&2
			tail -20 "$dir/log4" >&2
			exit 1
		fi
		sleep 0.05
	done
	a=$(since "$t")

	t=$(now)
	"$YAKT" quorum add-voter --node-id 4 --http-address "$(http 4)" --timeout 5m \
		--endpoints "http://$(http 1),http://$(http 2),http://$(http 3)" >"$dir/add-voter.out"
	b=$(since "$t")
	grep -q '^4 .*Follower\|^4 .*Leader' "$dir/add-voter.out" || { echo "node 4 is not a voter:" >&2; cat "$dir/add-voter.out" >&2; exit 1; }

	echo "run $run: fill ${fill}s (leader $l, commit index $target); (a) join to caught-up observer ${a}s; (b) add-voter ${b}s; load average $load0 -> $(cut -d' ' -f1 /proc/loadavg)"
	as+=("$a") bs+=("$b")
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	[ -n "$KEEP" ] || rm -rf "$dir"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median of $RUNS: (a) $(median "${as[@]}")s [${as[*]}]; (b) $(median "${bs[@]}")s [${bs[*]}]"
