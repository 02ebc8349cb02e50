/**
 * The KV and Watch requests and responses as the logic layer sees them: plain TypeScript
 * mirrors of etcdserverpb / mvccpb with camelCase names. Revisions and versions are safe
 * integer numbers, lease ids are bigint (the int64 on the wire), keys and values are bytes.
 * The server maps protobuf messages to these one to one; optional fields default as in
 * proto3 (0, false, empty).
 */

import type { LeaseId } from "../base/types.ts";

/** mvccpb.KeyValue. */
export interface KeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Uint8Array;
  lease: LeaseId;
}

/** mvccpb.Event.EventType. */
export enum EventType {
  PUT = 0,
  DELETE = 1,
}

/** mvccpb.Event. A DELETE's kv holds only the key and the deletion's mod revision. */
export interface Event {
  type: EventType;
  kv: KeyValue;
  prevKv?: KeyValue;
}

/** The part of etcdserverpb.ResponseHeader the store decides; the server adds the ids and term. */
export interface ResponseHeader {
  revision: number;
}

/** RangeRequest.SortOrder. */
export enum SortOrder {
  NONE = 0,
  ASCEND = 1,
  DESCEND = 2,
}

/** RangeRequest.SortTarget. */
export enum SortTarget {
  KEY = 0,
  VERSION = 1,
  CREATE = 2,
  MOD = 3,
  VALUE = 4,
}

/** etcdserverpb.RangeRequest (serializable is the server's business and is not here). */
export interface RangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  limit?: number;
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

/** etcdserverpb.RangeResponse. */
export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

/** etcdserverpb.PutRequest. */
export interface PutRequest {
  key: Uint8Array;
  value?: Uint8Array;
  lease?: LeaseId;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

/** etcdserverpb.PutResponse. */
export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

/** etcdserverpb.DeleteRangeRequest. */
export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}

/** etcdserverpb.DeleteRangeResponse. */
export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

/** Compare.CompareResult. */
export enum CompareResult {
  EQUAL = 0,
  GREATER = 1,
  LESS = 2,
  NOT_EQUAL = 3,
}

/** Compare.CompareTarget. */
export enum CompareTarget {
  VERSION = 0,
  CREATE = 1,
  MOD = 2,
  VALUE = 3,
  LEASE = 4,
}

/**
 * etcdserverpb.Compare. The wire's target_union oneof becomes one optional field per target;
 * the field matching `target` is the operand (missing = 0 / empty, as etcd treats an unset
 * or mismatched union).
 */
export interface Compare {
  result: CompareResult;
  target: CompareTarget;
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Uint8Array;
  lease?: LeaseId;
}

/** etcdserverpb.RequestOp: one operation of a txn branch. */
export type RequestOp =
  | { case: "requestRange"; value: RangeRequest }
  | { case: "requestPut"; value: PutRequest }
  | { case: "requestDeleteRange"; value: DeleteRangeRequest }
  | { case: "requestTxn"; value: TxnRequest };

/** etcdserverpb.ResponseOp. */
export type ResponseOp =
  | { case: "responseRange"; value: RangeResponse }
  | { case: "responsePut"; value: PutResponse }
  | { case: "responseDeleteRange"; value: DeleteRangeResponse }
  | { case: "responseTxn"; value: TxnResponse };

/** etcdserverpb.TxnRequest. */
export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

/** etcdserverpb.TxnResponse. */
export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

/** etcdserverpb.CompactionRequest. */
export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

/** etcdserverpb.CompactionResponse. */
export interface CompactionResponse {
  header: ResponseHeader;
}

/** etcdserverpb.HashKVResponse (less the header ids). */
export interface HashKVResponse {
  header: ResponseHeader;
  hash: number;
  compactRevision: number;
}
