/**
 * The Client: one object per application holding the connections to a cluster's members
 * and the namespaces of etcd's API (kv, watch, lease, cluster, maintenance, auth, lock,
 * election). The same client runs in Deno (gRPC over Concord's HTTP/2 client) and in
 * browsers (gRPC-web over fetch); only the transport differs.
 */
import type { PutResponse, RangeResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";
import { AuthClient } from "./auth.ts";
import type { Bytes } from "./bytes.ts";
import { ClusterClient } from "./cluster.ts";
import { type CallOptions, Connection, type MemberCallOptions } from "./connection.ts";
import { ElectionClient } from "./election.ts";
import { getJson } from "./http_json.ts";
import { KVClient } from "./kv.ts";
import { LeaseClient } from "./lease.ts";
import { LockClient } from "./lock.ts";
import { MaintenanceClient } from "./maintenance.ts";
import type { PutOptions, RangeOptions } from "./ops.ts";
import { type TransportFactory, webTransport } from "./transport.ts";
import type { Txn } from "./txn.ts";
import { Watch, type WatchOptions } from "./watch.ts";

/** How to reach the cluster and how to behave when members fail. */
export interface ClientOptions {
  /** Member client URLs (`http://host:port` or `host:port`), used round-robin. */
  endpoints: string | string[];
  /** How to talk to one member (default: `Client.defaultTransport`). */
  transport?: TransportFactory;
  /** Authenticate as this user; the token is fetched and refreshed as needed. */
  username?: string;
  /** The user's password (with `username`). */
  password?: string;
  /** Deadline of calls that give none (default: none). */
  timeoutMs?: number;
  /** Replace the endpoints with the members' client URLs this often (default: never). */
  autoSyncIntervalMs?: number;
  /**
   * A watch stream silent this long has its member probed; one that does not answer in
   * `watchProbeTimeoutMs` is left for another member (defaults 10000 and 5000; 0: off).
   */
  watchProbeIntervalMs?: number;
  /** How long the probe of a silent watch's member may take (default 5000 ms). */
  watchProbeTimeoutMs?: number;
  /** How long a member that failed is passed over (default 3000 ms). */
  memberDownMs?: number;
}

/**
 * A client of an etcd v3 cluster (Concord or etcd).
 *
 * @example
 * ```ts
 * import { Client } from "./mod.ts";
 * // the members to talk to, as etcdctl takes them
 * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
 * await client.put("greeting", "hello");
 * console.log(await client.getText("greeting")); // "hello"
 * await client.close();
 * ```
 */
export class Client {
  /**
   * The transport of clients made without one: gRPC-web over fetch in browser.ts; the
   * Deno entry point (mod.ts) sets gRPC over Concord's HTTP/2 client.
   */
  static defaultTransport: TransportFactory = webTransport;

  /** Keys: range, put, delete, compact, txn. */
  readonly kv: KVClient;
  /** Leases: grant, revoke, keep-alive, time-to-live, list. */
  readonly lease: LeaseClient;
  /** Membership: list, add, remove, update, promote. */
  readonly cluster: ClusterClient;
  /** Status, alarms, hashes, defragmentation, snapshots, leader moves. */
  readonly maintenance: MaintenanceClient;
  /** Users, roles, permissions, enabling auth. */
  readonly auth: AuthClient;
  /** Server-side locks (etcd's v3lock). */
  readonly lock: LockClient;
  /** Server-side elections (etcd's v3election). */
  readonly election: ElectionClient;
  readonly #conn: Connection;
  readonly #opts: ClientOptions;
  #syncTimer?: ReturnType<typeof setInterval>;
  /** Watches not yet ended, for `requestProgress`. */
  readonly #watches = new Set<Watch>();

  /** Connects lazily: the first call opens the connection to its member. */
  constructor(opts: ClientOptions) {
    this.#opts = opts;
    this.#conn = new Connection({
      endpoints: typeof opts.endpoints === "string" ? [opts.endpoints] : opts.endpoints,
      transport: opts.transport ?? Client.defaultTransport,
      username: opts.username,
      password: opts.password,
      defaultTimeoutMs: opts.timeoutMs,
      downMs: opts.memberDownMs,
    });
    this.kv = new KVClient(this.#conn);
    this.lease = new LeaseClient(this.#conn);
    this.cluster = new ClusterClient(this.#conn);
    this.maintenance = new MaintenanceClient(this.#conn);
    this.auth = new AuthClient(this.#conn);
    this.lock = new LockClient(this.#conn);
    this.election = new ElectionClient(this.#conn);
    if (opts.autoSyncIntervalMs) {
      this.#syncTimer = setInterval(() => {
        // a failed sync keeps the endpoints the client has (it tries again next time)
        this.sync().catch(() => {});
      }, opts.autoSyncIntervalMs);
      const deno = (globalThis as { Deno?: typeof Deno }).Deno;
      if (deno && typeof this.#syncTimer === "number") deno.unrefTimer(this.#syncTimer);
    }
  }

  /** The endpoints in use. */
  get endpoints(): string[] {
    return this.#conn.endpoints;
  }

  /** How many auth tokens the client has fetched (each refresh adds one). */
  get tokensFetched(): number {
    return this.#conn.tokensFetched;
  }

  /** Replaces the endpoints with the client URLs of the cluster's voting members. */
  async sync(opts?: CallOptions): Promise<void> {
    const r = await this.cluster.list(opts);
    const urls = r.members.filter((m) => !m.isLearner).flatMap((m) => m.clientURLs);
    if (urls.length > 0) this.#conn.setEndpoints(urls);
  }

  /** Same as `kv.range`. */
  range(key: Bytes, opts?: RangeOptions & MemberCallOptions): Promise<RangeResponse> {
    return this.kv.range(key, opts);
  }

  /** Same as `kv.get`: the key-value, or undefined when the key does not exist. */
  get(key: Bytes, opts?: RangeOptions & MemberCallOptions): Promise<KeyValue | undefined> {
    return this.kv.get(key, opts);
  }

  /** The key's value as text, or undefined when the key does not exist. */
  async getText(key: Bytes, opts?: RangeOptions & MemberCallOptions): Promise<string | undefined> {
    const kv = await this.kv.get(key, opts);
    return kv === undefined ? undefined : new TextDecoder().decode(kv.value);
  }

  /** Same as `kv.put`. */
  put(key: Bytes, value: Bytes, opts?: PutOptions & MemberCallOptions): Promise<PutResponse> {
    return this.kv.put(key, value, opts);
  }

  /** Same as `kv.txn`. */
  txn(): Txn {
    return this.kv.txn();
  }

  /**
   * Watches a key or range from `startRevision` (default: from now), surviving member
   * failures without losing or repeating events.
   */
  watch(key: Bytes, opts: WatchOptions = {}): Watch {
    const w: Watch = new Watch(this.#conn, key, opts, {
      probeIntervalMs: this.#opts.watchProbeIntervalMs ?? 10_000,
      probeTimeoutMs: this.#opts.watchProbeTimeoutMs ?? 5_000,
    }, () => this.#watches.delete(w));
    this.#watches.add(w);
    return w;
  }

  /**
   * Asks for a progress notification on every open watch (clientv3's
   * Watcher.RequestProgress, which asks on the stream its watches share): each receives a
   * response without events (`isProgressNotify`) carrying its member's current revision.
   * Throws on a transport that cannot send progress requests (gRPC-web over fetch).
   */
  requestProgress(): void {
    for (const w of this.#watches) if (w.active) w.requestProgress();
  }

  /**
   * GETs `path` (e.g. "/ui/api/members-status") on a member as this client's user: for
   * Concord's HTTP endpoints beyond etcd's services. Resolves with the parsed JSON; a
   * refusal rejects with etcd's error, as a call's does.
   */
  getJson(path: string, opts?: MemberCallOptions): Promise<unknown> {
    return getJson(this.#conn, path, opts);
  }

  /** Ends every call, watch and keep-alive, and closes the connections. */
  async close(): Promise<void> {
    if (this.#syncTimer !== undefined) clearInterval(this.#syncTimer);
    await this.#conn.close();
  }
}
