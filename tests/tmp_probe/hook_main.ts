// deno-lint-ignore-file no-explicit-any
const internal = (Deno as any)[(Deno as any).internal];
const origin = new WeakMap<object, Error>();
const settled = new WeakMap<object, Error>();
(Error as any).stackTraceLimit = 25;
let on = true;
internal.core.setPromiseHooks(
  (p: object) => {
    if (!on) return;
    on = false;
    try {
      origin.set(p, new Error("created"));
    } finally {
      on = true;
    }
  },
  undefined,
  undefined,
  (p: object) => {
    if (!on) return;
    on = false;
    try {
      settled.set(p, new Error("settled"));
    } finally {
      on = true;
    }
  },
);
globalThis.addEventListener("unhandledrejection", (e) => {
  (Error as any).prepareStackTrace = (_e: Error, frames: any[]) =>
    frames.map((f) => `  ${f.getFileName()}:${f.getLineNumber()} ${f.getFunctionName()}`).join(
      "\n",
    );
  console.log("UNHANDLED", String(e.reason).slice(0, 80));
  console.log("CREATED\n" + origin.get(e.promise)?.stack);
  console.log("SETTLED\n" + settled.get(e.promise)?.stack);
});
await import("../sim/sim_cluster_main.ts");
