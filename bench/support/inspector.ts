/**
 * V8's inspector on this process, for the profilers (bench/alloc_profile.ts,
 * bench/cpu_profile.ts, bench/inflight_heap.ts, bench/memory_parts.ts): they measure a member
 * started in their own isolate, which is all the inspector sees.
 */
import { Session } from "node:inspector";

/** A connected session whose `post` resolves with the method's result. */
export interface InspectorSession {
  post<T>(method: string, params?: Record<string, unknown>): Promise<T>;
  disconnect(): void;
}

/** Connects a session to this isolate. */
export function connectInspector(): InspectorSession {
  const session = new Session();
  session.connect();
  return {
    post: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) =>
        session.post(
          method,
          params,
          (err: Error | null, res?: object) => err ? reject(err) : resolve(res as T),
        )
      ),
    disconnect: () => session.disconnect(),
  };
}

/** A heap snapshot of this isolate, parsed (the caller says what shape it reads). */
export async function heapSnapshot<T>(): Promise<T> {
  const session = new Session();
  session.connect();
  const chunks: string[] = [];
  session.on("HeapProfiler.addHeapSnapshotChunk", (m) => chunks.push(m.params.chunk));
  try {
    await new Promise<void>((resolve, reject) =>
      session.post(
        "HeapProfiler.takeHeapSnapshot",
        { reportProgress: false },
        (err: Error | null) => err ? reject(err) : resolve(),
      )
    );
  } finally {
    session.disconnect();
  }
  return JSON.parse(chunks.join("")) as T;
}
