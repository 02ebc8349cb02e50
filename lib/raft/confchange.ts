/**
 * Single-step membership changes (Raft thesis §4.1): add a voter, add a learner, promote a
 * learner, demote or remove a node, one change at a time. A change is proposed as a log
 * entry of type ConfChange whose data is `encodeConfChange(cc)`, and takes effect on every
 * node when that entry is applied (RawNode.applyConfChange). Joint consensus (ConfChangeV2)
 * is not supported: such entries are refused at proposal time.
 */
import type { NodeId } from "../base/raftpb.ts";
import { Progress } from "./progress.ts";
import type { ProgressTracker } from "./tracker.ts";

/** The kinds of change (numbered like etcd's raftpb.ConfChangeType). */
export enum ConfChangeType {
  /** Add a voter, or promote a learner to voter. */
  AddNode = 0,
  /** Remove a voter or learner. */
  RemoveNode = 1,
  /** No membership effect; carries new context (e.g. peer URLs) for the server. */
  UpdateNode = 2,
  /** Add a learner, or demote a voter to learner. */
  AddLearnerNode = 3,
}

/** One membership change. `context` is opaque to raft (the server's member record). */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  context: Uint8Array;
}

/** The format version byte at the start of an encoded ConfChange. */
export const CONF_CHANGE_FORMAT = 1;

/** Encodes a ConfChange as entry data (layout in docs/formats.md). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (cc.nodeId < 0n || cc.nodeId > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`conf change node id ${cc.nodeId} is not a uint64`);
  }
  const out = new Uint8Array(10 + cc.context.length);
  out[0] = CONF_CHANGE_FORMAT;
  out[1] = cc.type;
  new DataView(out.buffer).setBigUint64(2, cc.nodeId, false);
  out.set(cc.context, 10);
  return out;
}

/** Decodes entry data made by encodeConfChange; throws on anything else. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length < 10) throw new RangeError(`conf change is ${data.length} bytes, need >= 10`);
  if (data[0] !== CONF_CHANGE_FORMAT) {
    throw new RangeError(`unknown conf change format ${data[0]}`);
  }
  const type = data[1];
  if (!(type in ConfChangeType)) throw new RangeError(`unknown conf change type ${type}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { type, nodeId: view.getBigUint64(2, false), context: data.slice(10) };
}

/** What applying a change did. */
export enum ConfChangeOutcome {
  /** The configuration changed. */
  Applied = "applied",
  /** Nothing to change (already so, UpdateNode, or node id 0). */
  NoOp = "no-op",
  /** Refused (it would leave no voters); the configuration is unchanged. */
  Refused = "refused",
}

/**
 * Checks whether a change can be applied to the configuration (without applying it).
 * Returns a reason string when it would be refused, else null.
 */
export function confChangeProblem(trk: ProgressTracker, cc: ConfChange): string | null {
  const isVoter = trk.voters.includes(cc.nodeId);
  if (
    (cc.type === ConfChangeType.RemoveNode || cc.type === ConfChangeType.AddLearnerNode) &&
    isVoter && trk.voters.length === 1
  ) {
    return `removing or demoting ${cc.nodeId} would leave no voters`;
  }
  return null;
}

/**
 * Applies one change to the tracker. New nodes start probing from `lastIndex` and count
 * as recently active, so a leader does not step down before it has heard from them.
 */
export function applyConfChangeTo(
  trk: ProgressTracker,
  cc: ConfChange,
  lastIndex: number,
): ConfChangeOutcome {
  const id = cc.nodeId;
  if (id === 0n || cc.type === ConfChangeType.UpdateNode) return ConfChangeOutcome.NoOp;
  if (confChangeProblem(trk, cc) !== null) return ConfChangeOutcome.Refused;
  const isVoter = trk.voters.includes(id);
  const isLearner = trk.learners.includes(id);
  switch (cc.type) {
    case ConfChangeType.AddNode: {
      if (isVoter) return ConfChangeOutcome.NoOp;
      if (isLearner) {
        trk.learners = trk.learners.filter((x) => x !== id);
        trk.progress.get(id)!.isLearner = false;
      } else {
        addProgress(trk, id, lastIndex, false);
      }
      trk.voters = trk.voters.concat([id]);
      return ConfChangeOutcome.Applied;
    }
    case ConfChangeType.AddLearnerNode: {
      if (isLearner) return ConfChangeOutcome.NoOp;
      if (isVoter) {
        trk.voters = trk.voters.filter((x) => x !== id);
        trk.progress.get(id)!.isLearner = true;
      } else {
        addProgress(trk, id, lastIndex, true);
      }
      trk.learners = trk.learners.concat([id]);
      return ConfChangeOutcome.Applied;
    }
    case ConfChangeType.RemoveNode: {
      if (!isVoter && !isLearner) return ConfChangeOutcome.NoOp;
      trk.voters = trk.voters.filter((x) => x !== id);
      trk.learners = trk.learners.filter((x) => x !== id);
      trk.progress.delete(id);
      trk.votes.delete(id);
      return ConfChangeOutcome.Applied;
    }
  }
  return ConfChangeOutcome.NoOp;
}

function addProgress(trk: ProgressTracker, id: NodeId, lastIndex: number, learner: boolean) {
  const pr = new Progress(
    0,
    Math.max(lastIndex, 1),
    trk.maxInflight,
    trk.maxInflightBytes,
    learner,
  );
  pr.recentActive = true;
  trk.progress.set(id, pr);
}
