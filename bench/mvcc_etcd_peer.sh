#!/bin/sh
# Runs the etcd 3.4 peer of bench/mvcc_load.ts: copies etcd's mvcc package (Debian sources)
# into a scratch GOPATH overlay with bench/mvcc_etcd_peer_test.go added, builds, and runs it.
#   sh bench/mvcc_etcd_peer.sh [put1k put1m range index watch]
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/mvcc-peer-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/src/go.etcd.io/etcd"
cp -r /usr/share/gocode/src/go.etcd.io/etcd/mvcc "$T/src/go.etcd.io/etcd/mvcc"
cp "$HERE/mvcc_etcd_peer_test.go" "$T/src/go.etcd.io/etcd/mvcc/zz_peer_test.go"
GO111MODULE=off GOPATH="$T:/usr/share/gocode" GOCACHE="$T/cache" \
  go test -c -o "$T/peer.test" go.etcd.io/etcd/mvcc
cd "$T" && PEER_PARTS="$*" TMPDIR="$T" ./peer.test -test.run TestPeerLoad -test.v -test.timeout 30m |
  grep -v "^=== RUN\|^--- PASS\|^PASS"
