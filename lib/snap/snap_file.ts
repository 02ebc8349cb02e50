/**
 * The raft snapshot file: one `Snapshot` (metadata and the server's data), checksummed, so a
 * damaged file is recognised and set aside rather than restored from. Layout (little-endian,
 * documented in docs/formats.md):
 *
 * ```
 * 0   4   magic "CSNP"
 * 4   u32 version (1)
 * 8   u32 CRC-32C of bytes 16..end
 * 12  u32 reserved (0)
 * 16  u64 payload length P
 * 24  payload: u64 index, u64 term, conf state, u64 data length D, D bytes of data
 * ```
 * conf state: u8 autoLeave, then voters, learners, votersOutgoing, learnersNext, each a u32
 * count followed by that many u64 node ids.
 */
import { crc32c } from "../base/crc32c.ts";
import type { ConfState, NodeId, Snapshot } from "../base/raftpb.ts";
import { toCounter } from "../base/types.ts";

/** The file's first four bytes. */
export const SNAP_MAGIC = new Uint8Array([0x43, 0x53, 0x4e, 0x50]); // "CSNP"
/** The snapshot file format version. */
export const SNAP_VERSION = 1;
const HEADER = 24;

/** A snapshot file failed its checks. */
export class SnapCorruptError extends Error {
  constructor(path: string, reason: string) {
    super(`snap: ${path} is damaged: ${reason}`);
    this.name = "SnapCorruptError";
  }
}

function confLists(cs: ConfState): NodeId[][] {
  return [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext];
}

/** Encodes a snapshot file's bytes. */
export function encodeSnapshotFile(snap: Snapshot): Uint8Array {
  const md = snap.metadata;
  toCounter(md.index, "snapshot index");
  toCounter(md.term, "snapshot term");
  const lists = confLists(md.confState);
  let ids = 0;
  for (const l of lists) ids += l.length;
  const payload = 16 + 1 + 16 + ids * 8 + 8 + snap.data.length;
  const buf = new Uint8Array(HEADER + payload);
  const view = new DataView(buf.buffer);
  buf.set(SNAP_MAGIC, 0);
  view.setUint32(4, SNAP_VERSION, true);
  view.setBigUint64(16, BigInt(payload), true);
  let at = HEADER;
  view.setBigUint64(at, BigInt(md.index), true);
  view.setBigUint64(at + 8, BigInt(md.term), true);
  at += 16;
  buf[at++] = md.confState.autoLeave ? 1 : 0;
  for (const l of lists) {
    view.setUint32(at, l.length, true);
    at += 4;
    for (const id of l) {
      view.setBigUint64(at, BigInt.asUintN(64, id), true);
      at += 8;
    }
  }
  view.setBigUint64(at, BigInt(snap.data.length), true);
  at += 8;
  buf.set(snap.data, at);
  view.setUint32(8, crc32c(buf, 0, 16), true);
  return buf;
}

/** Decodes and verifies a snapshot file's bytes; `path` names it in errors. */
export function decodeSnapshotFile(buf: Uint8Array, path: string): Snapshot {
  const bad = (reason: string) => new SnapCorruptError(path, reason);
  if (buf.length < HEADER) throw bad(`only ${buf.length} bytes`);
  for (let i = 0; i < 4; i++) if (buf[i] !== SNAP_MAGIC[i]) throw bad("not a snapshot file");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = view.getUint32(4, true);
  if (version !== SNAP_VERSION) throw bad(`unsupported version ${version}`);
  const payload = view.getBigUint64(16, true);
  if (payload !== BigInt(buf.length - HEADER)) {
    throw bad(`payload length ${payload} but the file holds ${buf.length - HEADER}`);
  }
  const crc = view.getUint32(8, true);
  const actual = crc32c(buf, 0, 16);
  if (crc !== actual) {
    throw bad(`CRC mismatch (stored ${crc.toString(16)}, computed ${actual.toString(16)})`);
  }
  let at = HEADER;
  const need = (n: number) => {
    if (at + n > buf.length) throw bad("truncated payload");
  };
  need(17);
  const index = toCounter(view.getBigUint64(at, true), "snapshot index");
  const term = toCounter(view.getBigUint64(at + 8, true), "snapshot term");
  at += 16;
  const autoLeave = buf[at++] === 1;
  const lists: NodeId[][] = [];
  for (let l = 0; l < 4; l++) {
    need(4);
    const n = view.getUint32(at, true);
    at += 4;
    need(n * 8);
    const ids: NodeId[] = [];
    for (let i = 0; i < n; i++, at += 8) ids.push(view.getBigUint64(at, true));
    lists.push(ids);
  }
  need(8);
  const dataLen = Number(view.getBigUint64(at, true));
  at += 8;
  if (at + dataLen !== buf.length) throw bad("data length does not match the file");
  return {
    data: buf.slice(at),
    metadata: {
      index,
      term,
      confState: {
        voters: lists[0],
        learners: lists[1],
        votersOutgoing: lists[2],
        learnersNext: lists[3],
        autoLeave,
      },
    },
  };
}
