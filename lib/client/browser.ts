/**
 * The client for browsers: everything in mod.ts except the gRPC transport (which needs
 * Deno's sockets); clients talk gRPC-web over fetch, which Concord serves on its client port.
 * @module
 */
export * from "./api.ts";
