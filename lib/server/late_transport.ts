/**
 * The peer transport of a cluster of one that grows. A single member serves no peers (it has
 * no one to talk to); once a change adding another member is applied, the transport starts
 * (listening on --listen-peer-urls, as etcd always does) and reaches every member the
 * membership names. Without it the member could never reach the member it added, and a
 * cluster of two needs both. A peer port taken now (it was not needed until the cluster grew)
 * is retried with backoff, not fatal: the member goes on serving what it can, and its log
 * says why.
 */
import { type Logger, tookField } from "../base/log.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import type { Transport, TransportHost } from "../transport/transport.ts";
import type { MemberRecord } from "./membership.ts";
import { formatId } from "./member_id.ts";

/** Makes a member's transport once its raft loop (the transport's host) exists. */
export type TransportFactory = (host: TransportHost) => Transport | Promise<Transport>;

/** What the late start needs of its member. */
export interface LateTransportHost {
  id: MemberId;
  clock: Clock;
  log: Logger;
  /** The raft loop the transport delivers to. */
  host: TransportHost;
  /** The transport the raft loop sends with, null while there is none. */
  current(): Transport | null;
  /** Hands the started transport to the raft loop. */
  install(t: Transport): void;
  /** The members to reach (this member included; it is skipped). */
  members(): MemberRecord[];
  /** False once the member stopped or failed: attempts end. */
  running(): boolean;
}

/** Starts the transport at most once, on the first `start()` after the member booted. */
export class LateTransport {
  readonly #h: LateTransportHost;
  #factory: TransportFactory | undefined = undefined;
  #armed = false;
  #starting: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  constructor(host: LateTransportHost) {
    this.#h = host;
  }

  /**
   * From now on a growing cluster starts its transport with `factory` (undefined: the member
   * was given no peer URLs, and a growth is logged as unreachable). Called once boot is done:
   * the WAL replay at boot sets the transport up itself.
   */
  arm(factory: TransportFactory | undefined): void {
    this.#factory = factory;
    this.#armed = true;
  }

  /** A change adding a member was applied: start the transport unless it runs already. */
  start(): void {
    const h = this.#h;
    if (!this.#armed || h.current() !== null || this.#starting !== null) return;
    const factory = this.#factory;
    if (factory === undefined) {
      // the change is committed either way; say loudly why the new member is unreachable
      h.log.error("added a member but has no peer transport (give it --listen-peer-urls)", {
        "local-member-id": formatId(h.id),
      });
      return;
    }
    this.#starting = this.#run(factory);
  }

  async #run(factory: TransportFactory): Promise<void> {
    const h = this.#h;
    for (let attempt = 0; h.running(); attempt++) {
      let t: Transport;
      try {
        t = await factory(h.host);
      } catch (err) {
        const waitMs = Math.min(10_000, 500 << Math.min(attempt, 5));
        h.log.warn("cannot start the peer transport (will retry)", {
          "local-member-id": formatId(h.id),
          "retry-in": tookField(waitMs),
          error: err,
        });
        await new Promise<void>((r) => {
          const timer = h.clock.after(waitMs, r);
          this.#wake = () => {
            timer.cancel();
            r();
          };
        });
        this.#wake = null;
        continue;
      }
      if (!h.running()) {
        await t.close();
        return;
      }
      h.install(t);
      for (const m of h.members()) {
        if (m.id !== h.id) t.addPeer({ id: m.id, urls: m.peerURLs });
      }
      h.log.info("started the peer transport (the cluster grew)", {
        "local-member-id": formatId(h.id),
      });
      return;
    }
  }

  /** Ends a wait between attempts and resolves once no attempt is under way. */
  async close(): Promise<void> {
    this.#wake?.();
    await this.#starting;
  }
}
