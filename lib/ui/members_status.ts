/**
 * Every member's own status as the serving member gathered it over the peer transport
 * (GET /ui/api/members-status, lib/api/console/members_status.ts): what `etcdctl endpoint
 * status --cluster` shows, per member, or the error that member gave instead. Parsed from the
 * gateway's JSON (64-bit integers as decimal strings, zero values left out); an answer that
 * is not of that shape is refused, never filled in. Pure, no DOM.
 */

/** Where the serving member answers (the same path as the API's MEMBERS_STATUS_PATH). */
export const MEMBERS_STATUS_PATH = "/ui/api/members-status";

/** One member's own figures, as its Status gave them. */
export interface StatusFigures {
  memberId: bigint;
  clusterId: bigint;
  /** The member this member believes leads (0: none). */
  leader: bigint;
  revision: bigint;
  raftTerm: bigint;
  raftIndex: bigint;
  raftAppliedIndex: bigint;
  dbSize: number;
  dbSizeInUse: number;
  version: string;
  isLearner: boolean;
  /** etcd's status errors: no leader, alarms. */
  errors: string[];
}

/** One member: its record and either its figures or its error. */
export interface MemberFigures {
  id: bigint;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
  status?: StatusFigures;
  error?: { code: number; message: string };
}

type Json = Record<string, unknown>;

function object(v: unknown, what: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`members status: ${what} is not an object`);
  }
  return v as Json;
}

/** A 64-bit integer field (decimal string, or absent for 0). */
function int(o: Json, key: string, what: string): bigint {
  const v = o[key];
  if (v === undefined) return 0n;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  throw new Error(`members status: ${what}.${key} is not an integer`);
}

function str(o: Json, key: string, what: string): string {
  const v = o[key];
  if (v === undefined) return "";
  if (typeof v !== "string") throw new Error(`members status: ${what}.${key} is not a string`);
  return v;
}

function strings(o: Json, key: string, what: string): string[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw new Error(`members status: ${what}.${key} is not a list of strings`);
  }
  return v as string[];
}

function bool(o: Json, key: string, what: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new Error(`members status: ${what}.${key} is not a boolean`);
  return v;
}

function figuresOf(v: unknown, what: string): StatusFigures {
  const s = object(v, what);
  const header = object(s.header ?? {}, `${what}.header`);
  return {
    memberId: int(header, "member_id", `${what}.header`),
    clusterId: int(header, "cluster_id", `${what}.header`),
    revision: int(header, "revision", `${what}.header`),
    leader: int(s, "leader", what),
    raftTerm: int(s, "raftTerm", what),
    raftIndex: int(s, "raftIndex", what),
    raftAppliedIndex: int(s, "raftAppliedIndex", what),
    dbSize: Number(int(s, "dbSize", what)),
    dbSizeInUse: Number(int(s, "dbSizeInUse", what)),
    version: str(s, "version", what),
    isLearner: bool(s, "isLearner", what),
    errors: strings(s, "errors", what),
  };
}

/** Parses the endpoint's answer; throws on anything not of its shape. */
export function parseMembersStatus(answer: unknown): MemberFigures[] {
  const members = object(answer, "the answer").members;
  if (!Array.isArray(members)) throw new Error("members status: no members list");
  return members.map((raw, i) => {
    const what = `members[${i}]`;
    const e = object(raw, what);
    const m = object(e.member, `${what}.member`);
    const out: MemberFigures = {
      id: int(m, "ID", `${what}.member`),
      name: str(m, "name", `${what}.member`),
      peerURLs: strings(m, "peerURLs", `${what}.member`),
      clientURLs: strings(m, "clientURLs", `${what}.member`),
      isLearner: bool(m, "isLearner", `${what}.member`),
    };
    if (e.status !== undefined) {
      out.status = figuresOf(e.status, `${what}.status`);
      if (out.status.memberId !== out.id) {
        throw new Error(`members status: ${what} holds the status of another member`);
      }
    } else {
      const err = object(e.error, `${what}.error`);
      if (typeof err.code !== "number" || typeof err.message !== "string") {
        throw new Error(`members status: ${what}.error has no code and message`);
      }
      out.error = { code: err.code, message: err.message };
    }
    return out;
  });
}
