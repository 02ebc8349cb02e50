/**
 * The member's alarms (etcd's AlarmStore): which member raised which alarm, kept in the
 * backend's "alarm" bucket (key = the protobuf AlarmMember, value empty, as etcd stores
 * them) so they survive restarts. Activate and deactivate run in the apply loop.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Backend } from "../backend/backend.ts";
import {
  type AlarmMember,
  AlarmMemberSchema,
  AlarmType,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** etcd's bucket name. */
export const ALARM_BUCKET = "alarm";
const EMPTY = new Uint8Array(0);

/** Alarms by type and member. */
export class AlarmStore {
  readonly #backend: Backend;
  /** "type/member" -> alarm. */
  readonly #alarms = new Map<string, AlarmMember>();

  constructor(backend: Backend) {
    this.#backend = backend;
    backend.write.createBucket(ALARM_BUCKET);
    backend.read.range(ALARM_BUCKET, EMPTY, undefined, (k) => {
      const m = fromBinary(AlarmMemberSchema, k.slice());
      this.#alarms.set(keyOf(m.memberID, m.alarm), m);
    });
  }

  /** Raises `type` for `member`; returns the alarm (also when it was already raised). */
  activate(member: bigint, type: AlarmType): AlarmMember {
    const k = keyOf(member, type);
    const have = this.#alarms.get(k);
    if (have) return have;
    const m = create(AlarmMemberSchema, { memberID: member, alarm: type });
    this.#alarms.set(k, m);
    this.#backend.write.put(ALARM_BUCKET, toBinary(AlarmMemberSchema, m), new Uint8Array(0));
    return m;
  }

  /** Clears `type` for `member`; returns the cleared alarm, or undefined when none was up. */
  deactivate(member: bigint, type: AlarmType): AlarmMember | undefined {
    const k = keyOf(member, type);
    const m = this.#alarms.get(k);
    if (!m) return undefined;
    this.#alarms.delete(k);
    this.#backend.write.delete(ALARM_BUCKET, toBinary(AlarmMemberSchema, m));
    return m;
  }

  /** The alarms of `type` (every alarm for NONE). */
  get(type: AlarmType = AlarmType.NONE): AlarmMember[] {
    const all = [...this.#alarms.values()];
    return type === AlarmType.NONE ? all : all.filter((m) => m.alarm === type);
  }

  /** True while some member has `type` raised. */
  has(type: AlarmType): boolean {
    return this.get(type).length > 0;
  }
}

function keyOf(member: bigint, type: AlarmType): string {
  return `${type}/${member}`;
}

/** etcd's text for an alarm (gogoproto's compact text), as Status errors carry it. */
export function alarmText(m: AlarmMember): string {
  return `memberID:${m.memberID} alarm:${AlarmType[m.alarm]} `;
}
