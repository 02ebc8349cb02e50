// The peer figure for bench/raft_throughput.ts: the same 3-node in-process cluster
// (RawNodes over MemoryStorage, an in-memory network, a synchronous Ready loop, 100-byte
// entries) built on etcd's own raft library (v3.4, from golang-etcd-server-dev).
//
//	GOPATH=/usr/share/gocode GO111MODULE=off GOMAXPROCS=1 go run bench/raft_etcd_peer.go [secs]
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"time"

	"go.etcd.io/etcd/raft"
	pb "go.etcd.io/etcd/raft/raftpb"
)

type node struct {
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	applied int
	reads   int
}

type cluster struct {
	nodes   []*node
	queue   []pb.Message
	batches int
}

func newCluster() *cluster {
	c := &cluster{}
	peers := []uint64{1, 2, 3}
	for _, id := range peers {
		s := raft.NewMemoryStorage()
		s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			ConfState: pb.ConfState{Voters: peers}, Index: 1, Term: 1}})
		rn, err := raft.NewRawNode(&raft.Config{
			ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: s,
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, PreVote: true, CheckQuorum: true,
			Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
		})
		if err != nil {
			panic(err)
		}
		c.nodes = append(c.nodes, &node{rn: rn, storage: s})
	}
	c.nodes[0].rn.Campaign()
	c.run()
	return c
}

func (c *cluster) run() {
	busy := true
	for busy {
		busy = false
		for _, n := range c.nodes {
			if !n.rn.HasReady() {
				continue
			}
			busy = true
			rd := n.rn.Ready()
			if !raft.IsEmptySnap(rd.Snapshot) {
				n.storage.ApplySnapshot(rd.Snapshot)
			}
			n.storage.Append(rd.Entries)
			if !raft.IsEmptyHardState(rd.HardState) {
				n.storage.SetHardState(rd.HardState)
			}
			c.queue = append(c.queue, rd.Messages...)
			n.applied += len(rd.CommittedEntries)
			n.reads += len(rd.ReadStates)
			n.rn.Advance(rd)
		}
		if len(c.queue) > 0 {
			busy = true
			q := c.queue
			c.queue = nil
			for _, m := range q {
				c.nodes[m.To-1].rn.Step(m)
			}
		}
	}
	c.batches++
	if c.batches%256 == 0 {
		for _, n := range c.nodes {
			st := n.rn.Status()
			if fi, _ := n.storage.FirstIndex(); st.Applied > fi+1024 {
				n.storage.Compact(st.Applied - 1024)
			}
		}
	}
}

func measure(secs float64, name, unit string, body func(c *cluster) int) {
	c := newCluster()
	warm := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(warm) {
		body(c)
	}
	done := 0
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	for time.Now().Before(end) {
		done += body(c)
	}
	el := time.Since(start).Seconds()
	fmt.Printf("etcd raft %s: %.0f %s/s\n", name, float64(done)/el, unit)
}

func measureOp(secs float64, name string, op func()) {
	done := 0
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	for time.Now().Before(end) {
		for i := 0; i < 100; i++ {
			op()
		}
		done += 100
	}
	fmt.Printf("etcd raftpb %s: %.0f ops/s\n", name, float64(done)/time.Since(start).Seconds())
}

func main() {
	secs := 3.0
	if len(os.Args) > 1 {
		secs, _ = strconv.ParseFloat(os.Args[1], 64)
	}
	payload := make([]byte, 100)
	batch := make([]pb.Entry, 256)
	for i := range batch {
		batch[i] = pb.Entry{Data: payload}
	}
	measure(secs, "commit, 1 entry per batch", "entries", func(c *cluster) int {
		before := c.nodes[0].applied
		c.nodes[0].rn.Propose(payload)
		c.run()
		return c.nodes[0].applied - before
	})
	measure(secs, "commit, 256 entries per batch", "entries", func(c *cluster) int {
		before := c.nodes[0].applied
		ents := make([]pb.Entry, 256)
		copy(ents, batch)
		c.nodes[0].rn.Step(pb.Message{Type: pb.MsgProp, From: 1, Entries: ents})
		c.run()
		return c.nodes[0].applied - before
	})
	app := pb.Message{Type: pb.MsgApp, To: 2, From: 1, Term: 5, LogTerm: 5, Index: 1000, Commit: 999}
	for i := 0; i < 256; i++ {
		app.Entries = append(app.Entries, pb.Entry{Term: 5, Index: uint64(1001 + i), Data: payload})
	}
	wire, _ := app.Marshal()
	measureOp(secs, "codec: encode an append of 256 entries", func() {
		if _, err := app.Marshal(); err != nil {
			panic(err)
		}
	})
	measureOp(secs, "codec: decode an append of 256 entries", func() {
		var m pb.Message
		if err := m.Unmarshal(wire); err != nil {
			panic(err)
		}
	})
	seq := uint64(0)
	measure(secs, "ReadIndex, 1 read per round", "reads", func(c *cluster) int {
		before := c.nodes[0].reads
		seq++
		ctx := make([]byte, 8)
		binary.BigEndian.PutUint64(ctx, seq)
		c.nodes[0].rn.ReadIndex(ctx)
		c.run()
		return c.nodes[0].reads - before
	})
	measure(secs, "ReadIndex, 64 reads sharing a round", "reads", func(c *cluster) int {
		before := c.nodes[0].reads
		for i := 0; i < 64; i++ {
			seq++
			ctx := make([]byte, 8)
			binary.BigEndian.PutUint64(ctx, seq)
			c.nodes[0].rn.ReadIndex(ctx)
		}
		c.run()
		return c.nodes[0].reads - before
	})
}
