// The peer for bench/mvcc_load.ts: the same measurements against etcd 3.4's own mvcc package
// (Debian's golang-etcd-server-dev sources), compiled as an extra test file of that package
// in a scratch GOPATH overlay by bench/mvcc_etcd_peer.sh. Not part of the Deno build.
package mvcc

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/etcd/lease"
	"go.etcd.io/etcd/mvcc/backend"
	"go.uber.org/zap"
)

func peerKey(prefix string, i int) []byte { return []byte(fmt.Sprintf("%s%08d", prefix, i)) }

func peerReport(name string, v float64, unit string) {
	fmt.Printf("%-48s %12.0f %s\n", name, v, unit)
}

func peerPut(distinct, total, valueBytes int) float64 {
	be, tmp := backend.NewDefaultTmpBackend()
	defer os.Remove(tmp)
	s := NewStore(zap.NewNop(), be, &lease.FakeLessor{}, nil, StoreConfig{})
	defer s.Close()
	defer be.Close()
	keys := make([][]byte, distinct)
	for i := range keys {
		keys[i] = peerKey("/registry/key/", i)
	}
	val := make([]byte, valueBytes)
	start := time.Now()
	for i := 0; i < total; i++ {
		s.Put(keys[i%distinct], val, lease.NoLease)
	}
	be.ForceCommit()
	return float64(total) / time.Since(start).Seconds()
}

func TestPeerLoad(t *testing.T) {
	parts := os.Getenv("PEER_PARTS")
	has := func(p string) bool { return parts == "" || contains(parts, p) }
	if has("put1k") {
		peerReport("put, 1,000 distinct keys, 256 B values", peerPut(1000, 300000, 256), "puts/s")
		peerReport("put, distinct keys, 64 B values", peerPut(300000, 300000, 64), "puts/s")
	}
	if has("put1m") {
		peerReport("put, 1,000,000 distinct keys, 256 B values", peerPut(1000000, 1000000, 256), "puts/s")
	}
	if has("range") {
		be, tmp := backend.NewDefaultTmpBackend()
		s := NewStore(zap.NewNop(), be, &lease.FakeLessor{}, nil, StoreConfig{})
		val := make([]byte, 64)
		for i := 0; i < 10000; i++ {
			s.Put(peerKey("/registry/key/", i), val, lease.NoLease)
		}
		s.Commit()
		one := peerKey("/registry/key/", 4242)
		n, start := 0, time.Now()
		for time.Since(start) < 2*time.Second {
			for j := 0; j < 1000; j++ {
				s.Range(one, nil, RangeOptions{})
			}
			n += 1000
		}
		peerReport("range of 1 key (10,000 keys stored)", float64(n)/time.Since(start).Seconds(), "ranges/s")
		a, b := peerKey("/registry/key/", 1000), peerKey("/registry/key/", 2000)
		if r, _ := s.Range(a, b, RangeOptions{}); len(r.KVs) != 1000 {
			t.Fatal("range size")
		}
		n, start = 0, time.Now()
		for time.Since(start) < 2*time.Second {
			for j := 0; j < 10; j++ {
				s.Range(a, b, RangeOptions{})
			}
			n += 10
		}
		peerReport("range of 1,000 keys", float64(n)/time.Since(start).Seconds(), "ranges/s")
		s.Close()
		be.Close()
		os.Remove(tmp)
	}
	if has("index") {
		const N = 1000000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// Keys are made after the baseline: the index keeps each key's bytes.
		ti := newTreeIndex(zap.NewNop())
		for i := 0; i < N; i++ {
			ti.Put(peerKey("/registry/key/", (i*7919)%N), revision{main: int64(i + 2)})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		peerReport("key index heap per key, 1M keys", float64(after.HeapAlloc-before.HeapAlloc)/N, "bytes/key")
		runtime.KeepAlive(ti)
	}
	if has("watch") {
		be, tmp := backend.NewDefaultTmpBackend()
		s := newWatchableStore(zap.NewNop(), be, &lease.FakeLessor{}, nil, nil, StoreConfig{})
		const W, puts = 1000, 2000
		prefix := []byte("/w/")
		done := make(chan int, W)
		streams := make([]WatchStream, W)
		for i := range streams {
			streams[i] = s.NewWatchStream()
			streams[i].Watch(0, prefix, []byte("/w0"), 0)
			go func(ws WatchStream) {
				got := 0
				for got < puts {
					got += len((<-ws.Chan()).Events)
				}
				done <- got
			}(streams[i])
		}
		val := make([]byte, 64)
		start := time.Now()
		for i := 0; i < puts; i++ {
			s.Put(peerKey("/w/", i%1000), val, lease.NoLease)
		}
		total := 0
		for i := 0; i < W; i++ {
			total += <-done
		}
		peerReport("watch fan-out: 1,000 watchers of one prefix", float64(total)/time.Since(start).Seconds(), "events/s")
		s.Close()
		be.Close()
		os.Remove(tmp)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
