/**
 * A tiny Connect service for the HTTP tests, built from a descriptor at run time so the tests
 * do not depend on the etcd protos: `test.Echo/Say` (unary), `test.Echo/Count` (server
 * streaming: n messages, one every `delay` ms) and `test.Echo/Collect` (client streaming).
 * Messages are google.protobuf.StringValue.
 */
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import {
  file_google_protobuf_wrappers,
  FileDescriptorProtoSchema,
  type StringValue,
  StringValueSchema,
} from "@bufbuild/protobuf/wkt";
import { createConnectRouter } from "@connectrpc/connect";
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";

const file = create(FileDescriptorProtoSchema, {
  name: "test/echo.proto",
  package: "test",
  dependency: ["google/protobuf/wrappers.proto"],
  syntax: "proto3",
  service: [{
    name: "Echo",
    method: [
      {
        name: "Say",
        inputType: ".google.protobuf.StringValue",
        outputType: ".google.protobuf.StringValue",
      },
      {
        name: "Count",
        inputType: ".google.protobuf.StringValue",
        outputType: ".google.protobuf.StringValue",
        serverStreaming: true,
      },
      {
        name: "Collect",
        inputType: ".google.protobuf.StringValue",
        outputType: ".google.protobuf.StringValue",
        clientStreaming: true,
      },
    ],
  }],
});

const registry = createFileRegistry(
  file,
  (name) => name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined,
);

/** The `test.Echo` service descriptor. */
export const EchoService: DescService = registry.getService("test.Echo")!;

function sv(value: string): StringValue {
  return create(StringValueSchema, { value });
}

/** A Connect router serving test.Echo, and a handler dispatching on the request path. */
export function echoHandler(): UniversalHandlerFn {
  const router = createConnectRouter();
  router.service(EchoService, {
    // deno-lint-ignore require-await
    say: async (req: StringValue) => sv(req.value),
    count: async function* (req: StringValue) {
      const [n, delay] = req.value.split(",").map(Number);
      for (let i = 0; i < n; i++) {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        yield sv(String(i));
      }
    },
    collect: async (reqs: AsyncIterable<StringValue>) => {
      const parts: string[] = [];
      for await (const r of reqs) parts.push(r.value);
      return sv(parts.join("|"));
    },
  } as never);
  const byPath = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req) => {
    const path = new URL(req.url).pathname;
    const h = byPath.get(path);
    if (h === undefined) return Promise.resolve({ status: 404 });
    return h(req);
  };
}
