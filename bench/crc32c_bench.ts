import { crc32c } from "../lib/base/crc32c.ts";

const page = new Uint8Array(4096).map((_, i) => i * 31);
Deno.bench("crc32c of a 4 KiB page", () => {
  crc32c(page);
});
