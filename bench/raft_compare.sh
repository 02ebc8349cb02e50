#!/bin/sh
# Runs the raft throughput benchmark and etcd's raft (the peer) back to back, alternating,
# so both see the same machine load. Usage: sh bench/raft_compare.sh [rounds] [secs]
set -e
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-3}
i=1
while [ "$i" -le "$rounds" ]; do
  echo "== round $i ($(uptime | sed 's/.*load average/load average/'))"
  ./node_modules/.bin/deno run -A bench/raft_throughput.ts "$secs"
  GOPATH=/usr/share/gocode GO111MODULE=off GOMAXPROCS=1 go run bench/raft_etcd_peer.go "$secs"
  i=$((i + 1))
done
