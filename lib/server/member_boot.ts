/**
 * What a member does between opening its data dir and serving: raft replays the committed
 * log past the applied index, the peer transport starts when the cluster has (or had) other
 * members, a lone voter campaigns at once, the lessor and the auto-compactor start, the raft
 * loop starts, and once a leader is known the member publishes its name and client URLs. Apart
 * from member.ts so the member keeps to wiring; what boot touches is `MemberBootHost`.
 */
import { create } from "@bufbuild/protobuf";
import { Errors, EtcdError } from "../base/errors.ts";
import type { ClusterId, MemberId } from "../base/types.ts";
import type { Logger } from "../base/log.ts";
import type { Clock } from "../io/clock.ts";
import { CompactionRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { ConfigError, type ServerConfig } from "./config.ts";
import { type Compactor, startCompactor } from "./compactor.ts";
import type { LateTransport, TransportFactory } from "./late_transport.ts";
import type { MemberRecord } from "./membership.ts";
import { publishMember } from "./member_publish.ts";
import type { Proposal } from "./member_options.ts";
import type { RaftLoop } from "./raft_loop.ts";
import { RequestKind } from "./request.ts";
import type { ServerState } from "./state.ts";
import { urlText } from "./bootstrap.ts";

/** What booting reads and drives of its member. */
export interface MemberBootHost {
  readonly id: MemberId;
  readonly clusterId: ClusterId;
  readonly config: ServerConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly loop: RaftLoop;
  readonly lateTransport: LateTransport;
  /** Resolves when the member first knows a leader. */
  readonly ready: Promise<void>;
  state(): ServerState;
  isLeader(): boolean;
  /** Names the member in errors. */
  describe(): string;
  propose(p: Proposal): Promise<unknown>;
  /** False once the member stopped or failed. */
  running(): boolean;
  /** The auto-compactor started; the member stops it when it stops. */
  compactorStarted(c: Compactor): void;
  /** The membership holds this member's attributes. */
  published(): void;
}

/**
 * Boots the member: `transport` makes its peer transport, `joinedPeers` are the members a
 * joining member learned at bootstrap. Throws ConfigError when the cluster has other members
 * but no transport was given.
 */
export async function bootMember(
  h: MemberBootHost,
  transport: TransportFactory | undefined,
  joinedPeers: MemberRecord[],
): Promise<void> {
  // replay: raft hands out committed entries after `applied`; the consistent index skips
  // what the backend already holds
  await h.loop.node.process();
  const cs = h.loop.node.raw.confState();
  const alone = cs.voters.length === 1 && cs.voters[0] === h.id;
  // a learner is a peer too (the only voter must still replicate to it), and a member
  // joining an existing cluster knows no configuration until the leader sends it
  const others = [...cs.voters, ...cs.learners].filter((id) => id !== h.id).length;
  // a cluster shrunk to this one member still listens on its peer URLs, as etcd always
  // does: a removed member that restarts without knowing it is told so only by a peer's
  // refusal (410), and this member is the only peer left to refuse it
  const shrunk = alone && transport !== undefined && h.state().membership.anyRemoved;
  if (others > 0 || !alone || shrunk) {
    if (transport === undefined) {
      throw new ConfigError(
        `${h.describe()} has other members but no peer transport: ` +
          `give it --listen-peer-urls to serve and reach its peers`,
      );
    }
    const t = await transport(h.loop);
    h.loop.setTransport(t);
    const peers = new Map(joinedPeers.map((m) => [m.id, m]));
    for (const m of h.state().membership.list()) peers.set(m.id, m);
    for (const m of peers.values()) {
      if (m.id !== h.id) t.addPeer({ id: m.id, urls: m.peerURLs });
    }
  }
  // from here on, a change adding a member to a cluster of one starts the transport
  h.lateTransport.arm(transport);
  if (alone) {
    // no one else can win, so there is no reason to wait an election timeout
    h.loop.node.campaign();
    await h.loop.node.process();
  }
  h.state().lessor.start();
  h.compactorStarted(startCompactor(
    h.config.autoCompactionMode,
    h.config.autoCompactionRetention,
    {
      clock: h.clock,
      rev: () => h.state().store.rev(),
      isLeader: () => h.isLeader(),
      compact: async (rev) => {
        await h.propose({
          kind: RequestKind.Compaction,
          req: create(CompactionRequestSchema, { revision: BigInt(rev) }),
        });
      },
      isCompacted: (err) => err instanceof EtcdError && err.message === Errors.compacted().message,
    },
  ));
  h.loop.start();
  h.ready.then(() =>
    publishMember({
      id: h.id,
      clusterId: h.clusterId,
      name: h.config.name,
      clientURLs: h.config.advertiseClientUrls.map(urlText),
      clock: h.clock,
      log: h.log,
      membership: () => h.state().membership,
      proposeAttributes: (req) => h.propose({ kind: RequestKind.MemberAttrSet, req }),
      running: () => h.running(),
    })
  ).then((published) => {
    if (published) h.published();
  });
}
