/**
 * Splits a byte stream into consecutive top-level JSON values, as Go's json.Decoder reads
 * a grpc-gateway streaming request body (e.g. several watch requests in one POST).
 */

/** Thrown when the stream holds something that is not a sequence of JSON values. */
export class JsonStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JsonStreamError";
  }
}

/**
 * Yields the text of each complete top-level JSON value in `chunks`. A value still
 * incomplete after `maxValueChars` characters is refused with `tooLarge()` rather than
 * buffered without bound.
 */
export async function* splitJsonValues(
  chunks: AsyncIterable<Uint8Array>,
  maxValueChars = Infinity,
  tooLarge: () => Error = () => new JsonStreamError("JSON value too large"),
): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder();
  let buf = "";
  let start = -1; // index in buf where the current value began
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false; // inside a bare scalar (number, true, false, null)
  let pos = 0;
  const scan = function* (final: boolean): Generator<string, void, undefined> {
    for (; pos < buf.length; pos++) {
      const c = buf[pos];
      if (start < 0) {
        if (c === " " || c === "\n" || c === "\r" || c === "\t") continue;
        start = pos;
        if (c === "{" || c === "[") depth = 1;
        else if (c === '"') inString = true;
        else scalar = true;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') {
          inString = false;
          if (depth === 0) {
            yield buf.slice(start, pos + 1);
            start = -1;
          }
        }
        continue;
      }
      if (scalar) {
        if (
          c === " " || c === "\n" || c === "\r" || c === "\t" || c === "{" || c === "[" ||
          c === '"'
        ) {
          yield buf.slice(start, pos);
          start = -1;
          scalar = false;
          pos--;
        }
        continue;
      }
      if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) {
          yield buf.slice(start, pos + 1);
          start = -1;
        }
      }
    }
    if (final && scalar && start >= 0) {
      yield buf.slice(start);
      start = -1;
      scalar = false;
    }
  };
  for await (const chunk of chunks) {
    buf += decoder.decode(chunk, { stream: true });
    yield* scan(false);
    // Drop what has been consumed so the buffer holds at most one partial value.
    const keep = start >= 0 ? start : pos;
    if (keep > 0) {
      buf = buf.slice(keep);
      pos -= keep;
      if (start >= 0) start = 0;
    }
    if (buf.length > maxValueChars) throw tooLarge();
  }
  buf += decoder.decode();
  yield* scan(true);
  if (start >= 0) throw new JsonStreamError("unexpected EOF");
}
