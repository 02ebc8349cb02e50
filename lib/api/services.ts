/**
 * The seam between the API front and the server: the etcd services as their generated
 * descriptors, and the implementations the server passes in. The API layer owns protocols,
 * paths, limits and error mapping; the server owns what each call means.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import {
  Auth,
  Cluster,
  KV,
  Lease,
  Maintenance,
  Watch,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Lock } from "../../proto/gen/v3lockpb/v3lock_pb.ts";
import { Election } from "../../proto/gen/v3electionpb/v3election_pb.ts";

/**
 * Implementations of etcd's services, keyed by a short name. A missing service or method
 * answers `Unimplemented`, exactly as a gRPC server without that method would.
 */
export interface EtcdServices {
  kv: Partial<ServiceImpl<typeof KV>>;
  watch: Partial<ServiceImpl<typeof Watch>>;
  lease: Partial<ServiceImpl<typeof Lease>>;
  cluster: Partial<ServiceImpl<typeof Cluster>>;
  maintenance: Partial<ServiceImpl<typeof Maintenance>>;
  auth: Partial<ServiceImpl<typeof Auth>>;
  lock: Partial<ServiceImpl<typeof Lock>>;
  election: Partial<ServiceImpl<typeof Election>>;
}

/** Every service Concord serves, by the key it has in `EtcdServices`. */
export const SERVICE_DESCRIPTORS: { readonly [K in keyof EtcdServices]: DescService } = {
  kv: KV,
  watch: Watch,
  lease: Lease,
  cluster: Cluster,
  maintenance: Maintenance,
  auth: Auth,
  lock: Lock,
  election: Election,
};
