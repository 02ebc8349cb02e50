/**
 * The standard gRPC health service, as etcd registers it: Check for the whole server ("")
 * answers SERVING or NOT_SERVING from the server's health check; any other service name is
 * NotFound ("unknown service"), as grpc-go's health server answers. Watch is not offered
 * (Unimplemented), which gRPC clients treat as "health checking unavailable".
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponse_ServingStatus,
} from "../../proto/gen/grpc/health/v1/health_pb.ts";

/** The health service over `check`, which reports whether the member is healthy. */
export function grpcHealthService(
  check: (() => Promise<boolean>) | undefined,
): Partial<ServiceImpl<typeof Health>> {
  return {
    async check(req) {
      if (req.service !== "") throw new ConnectError("unknown service", Code.NotFound);
      const healthy = check ? await check() : false;
      return {
        status: healthy
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.NOT_SERVING,
      };
    },
  };
}
