/**
 * etcd's learner interceptor: a learner member serves only serializable Range requests and
 * Status; every other RPC gets "etcdserver: rpc not supported for learner", so clients move
 * on to a voting member (etcd 3.4's isRPCSupportedForLearner).
 */
import { Errors } from "../base/errors.ts";
import type { Member } from "../server/member.ts";
import { type EtcdServices, SERVICE_DESCRIPTORS } from "./services.ts";

type Impl = (req: unknown, ctx: unknown) => unknown;

function isLearner(m: Member): boolean {
  return m.membership.get(m.id)?.isLearner === true;
}

/** True for what a learner answers (etcd: StatusRequest, serializable RangeRequest). */
function supported(service: keyof EtcdServices, method: string, req: unknown): boolean {
  if (service === "maintenance" && method === "status") return true;
  if (service === "kv" && method === "range") {
    return (req as { serializable?: boolean }).serializable === true;
  }
  return false;
}

/** A stream that fails at once, as a learner answers every streaming call. */
// deno-lint-ignore require-yield
async function* refused(): AsyncGenerator<never> {
  throw Errors.notSupportedForLearner();
}

/** Wraps every method of `services` with the learner check, made per call. */
export function learnerGate(m: Member, services: EtcdServices): EtcdServices {
  const out: Record<string, Record<string, Impl>> = {};
  for (const key of Object.keys(SERVICE_DESCRIPTORS) as (keyof EtcdServices)[]) {
    const impls = services[key] as unknown as Record<string, Impl | undefined>;
    const wrapped: Record<string, Impl> = {};
    for (const method of SERVICE_DESCRIPTORS[key].methods) {
      const impl = impls[method.localName];
      if (impl === undefined) continue;
      const name = method.localName;
      if (method.methodKind === "unary") {
        // no async frame of its own: the call's promise is the implementation's, so nothing
        // here is held while the call waits for its commit
        wrapped[name] = (req, ctx) => {
          if (isLearner(m) && !supported(key, name, req)) {
            return Promise.reject(Errors.notSupportedForLearner());
          }
          try {
            return Promise.resolve(impl(req, ctx));
          } catch (err) {
            return Promise.reject(err);
          }
        };
      } else {
        // the stream itself when served: a generator of its own here would add an await
        // per message (every watch event batch, every keep-alive) for one check per call
        wrapped[name] = (req, ctx) => isLearner(m) ? refused() : impl(req, ctx);
      }
    }
    out[key] = wrapped;
  }
  return out as unknown as EtcdServices;
}
