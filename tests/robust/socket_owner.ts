/**
 * Which local process owns the other end of an accepted loopback TCP connection, read from
 * Linux's /proc: the client's socket is the line of /proc/net/tcp whose local port is the
 * connection's remote port and whose remote port is ours; its inode is a `socket:[inode]` link
 * under /proc/<pid>/fd of exactly one process. The peer proxy uses it to tell which member
 * dialed it, since every member reaches a peer through the same advertised URL.
 */

/**
 * The inode of the established socket with this local and remote port on 127.0.0.1, or
 * undefined.
 */
export async function socketInode(
  localPort: number,
  remotePort: number,
): Promise<string | undefined> {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  const local = `0100007F:${hex(localPort)}`;
  const remote = `0100007F:${hex(remotePort)}`;
  const text = await Deno.readTextFile("/proc/net/tcp");
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // state 01 is ESTABLISHED: a socket its process closed lingers in FIN_WAIT, in no fd table
    if (f[1] === local && f[2] === remote && f[3] === "01" && f[9] !== "0") return f[9];
  }
  return undefined;
}

/** Whether process `pid` holds socket `inode` open. */
export async function holdsSocket(pid: number, inode: string): Promise<boolean> {
  const want = `socket:[${inode}]`;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(`/proc/${pid}/fd`));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false; // it exited
    throw err;
  }
  for (const e of entries) {
    try {
      if (await Deno.readLink(`/proc/${pid}/fd/${e.name}`) === want) return true;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // closed meanwhile
    }
  }
  return false;
}

/**
 * The index in `pids` of the process that dialed a connection accepted on `ourPort` from
 * `theirPort`; -1 when its socket is already gone (closed by the dialer), -2 when no process
 * of `pids` holds it.
 */
export async function dialer(
  ourPort: number,
  theirPort: number,
  pids: readonly (number | undefined)[],
): Promise<number> {
  const inode = await socketInode(theirPort, ourPort);
  if (inode === undefined) return -1;
  for (let i = 0; i < pids.length; i++) {
    const pid = pids[i];
    if (pid !== undefined && await holdsSocket(pid, inode)) return i;
  }
  // closed while the fd tables were read?
  return await socketInode(theirPort, ourPort) === inode ? -2 : -1;
}
