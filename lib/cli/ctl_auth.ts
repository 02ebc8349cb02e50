/**
 * `ctl auth enable|disable`, `user …` and `role …` (etcdctl's auth_command.go,
 * user_command.go, role_command.go), with their argument checks, permission ranges
 * (--prefix, --from-key, open-ended "\x00") and messages. Passwords come from the argument
 * (`name:password`), --new-user-password, stdin with --interactive=false, or the terminal
 * (asked twice, without echo).
 */
import type { PermissionType } from "../client/auth.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, Exit, exitWith } from "./ctl_exit.ts";
import type { FlagSpec } from "./ctl_flags.ts";
import { prefixRangeEnd } from "./ctl_print_simple.ts";
import { client } from "./ctl_connect.ts";
import { Errors } from "../base/errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bad = (msg: string) => new CtlExit(Exit.BadArgs, msg);

async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (err) {
    exitWith(Exit.Error, err);
  }
}

async function runAuthEnable(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) throw bad("auth enable command does not accept any arguments");
  const c = await client(ctx);
  const o = ctx.callOptions();
  for (;;) {
    try {
      await c.auth.enable(o);
      break;
    } catch (err) {
      if (!Errors.rootRoleNotExist.is(err)) exitWith(Exit.Error, err);
      await call(() => c.auth.roleAdd("root", o));
      await call(() => c.auth.userGrantRole("root", "root", o));
    }
  }
  ctx.out("Authentication Enabled\n");
}

async function runAuthDisable(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) throw bad("auth disable command does not accept any arguments");
  const c = await client(ctx);
  await call(() => c.auth.disable(ctx.callOptions()));
  ctx.out("Authentication Disabled\n");
}

async function runAuthStatus(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) throw bad("auth status command does not accept any arguments");
  const c = await client(ctx);
  const resp = await call(() => c.auth.status(ctx.callOptions()));
  ctx.printer.authStatus(resp);
}

/** fmt.Scanf("%s"): the first word of stdin's first line. */
async function scanWord(ctx: CtlContext): Promise<string> {
  const { line } = await ctx.io.stdin.readLine();
  return line.trim().split(/\s+/)[0] ?? "";
}

/** etcdctl's readPasswordInteractive: asked twice on the terminal, both must match. */
async function askTwice(ctx: CtlContext, name: string): Promise<string> {
  const ask = ctx.io.askPassword;
  if (!ask) {
    throw bad(
      "failed to ask password: stdin is not a terminal (use --interactive=false and stdin, " +
        "or name:password)",
    );
  }
  const first = await ask(`Password of ${name}: `);
  if (first.length === 0) throw bad("empty password");
  const second = await ask(`Type password of ${name} again for confirmation: `);
  if (first !== second) throw bad("given passwords are different");
  return first;
}

async function runUserAdd(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw bad("user add command requires user name as its argument");
  let user = ctx.args[0];
  let password = "";
  const noPassword = ctx.flags.bool("no-password");
  if (!noPassword) {
    const fromFlag = ctx.flags.string("new-user-password");
    if (fromFlag !== "") password = fromFlag;
    else {
      const colon = user.indexOf(":");
      if (colon < 0) {
        password = ctx.flags.bool("interactive") ? await askTwice(ctx, user) : await scanWord(ctx);
      } else {
        password = user.slice(colon + 1);
        user = user.slice(0, colon);
        if (user.length === 0) throw bad("empty user name is not allowed");
      }
    }
  }
  const c = await client(ctx);
  const resp = await call(() =>
    c.auth.userAdd(user, password, { noPassword, signal: ctx.io.interrupt })
  );
  ctx.printer.userAdd(user, resp);
}

async function runUserDelete(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw bad("user delete command requires user name as its argument");
  const c = await client(ctx);
  const resp = await call(() => c.auth.userDelete(ctx.args[0], { signal: ctx.io.interrupt }));
  ctx.printer.userDelete(ctx.args[0], resp);
}

async function runUserGet(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw bad("user get command requires user name as its argument");
  const name = ctx.args[0];
  const c = await client(ctx);
  const resp = await call(() => c.auth.userGet(name, { signal: ctx.io.interrupt }));
  if (ctx.flags.bool("detail")) {
    ctx.out(`User: ${name}\n`);
    for (const role of resp.roles) {
      ctx.out("\n");
      const r = await call(() => c.auth.roleGet(role, { signal: ctx.io.interrupt }));
      ctx.printer.roleGet(role, r);
    }
  } else ctx.printer.userGet(name, resp);
}

async function runUserList(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) throw bad("user list command requires no arguments");
  const c = await client(ctx);
  const resp = await call(() => c.auth.userList({ signal: ctx.io.interrupt }));
  ctx.printer.userList(resp);
}

async function runUserPasswd(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw bad("user passwd command requires user name as its argument");
  const password = ctx.flags.bool("interactive")
    ? await askTwice(ctx, ctx.args[0])
    : await scanWord(ctx);
  const c = await client(ctx);
  const resp = await call(() =>
    c.auth.userChangePassword(ctx.args[0], password, { signal: ctx.io.interrupt })
  );
  ctx.printer.userChangePassword(resp);
}

async function runUserGrantRole(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 2) {
    throw bad("user grant command requires user name and role name as its argument");
  }
  const [user, role] = ctx.args;
  const c = await client(ctx);
  const resp = await call(() => c.auth.userGrantRole(user, role, { signal: ctx.io.interrupt }));
  ctx.printer.userGrantRole(user, role, resp);
}

async function runUserRevokeRole(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 2) {
    throw bad("user revoke-role requires user name and role name as its argument");
  }
  const [user, role] = ctx.args;
  const c = await client(ctx);
  const resp = await call(() => c.auth.userRevokeRole(user, role, { signal: ctx.io.interrupt }));
  ctx.printer.userRevokeRole(user, role, resp);
}

async function runRoleAdd(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw bad("role add command requires role name as its argument");
  const c = await client(ctx);
  const resp = await call(() => c.auth.roleAdd(ctx.args[0], { signal: ctx.io.interrupt }));
  ctx.printer.roleAdd(ctx.args[0], resp);
}

async function runRoleDelete(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw bad("role delete command requires role name as its argument");
  const c = await client(ctx);
  const resp = await call(() => c.auth.roleDelete(ctx.args[0], { signal: ctx.io.interrupt }));
  ctx.printer.roleDelete(ctx.args[0], resp);
}

async function runRoleGet(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw bad("role get command requires role name as its argument");
  const c = await client(ctx);
  const resp = await call(() => c.auth.roleGet(ctx.args[0], { signal: ctx.io.interrupt }));
  ctx.printer.roleGet(ctx.args[0], resp);
}

async function runRoleList(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) throw bad("role list command requires no arguments");
  const c = await client(ctx);
  const resp = await call(() => c.auth.roleList({ signal: ctx.io.interrupt }));
  ctx.printer.roleList(resp);
}

/** etcdctl's permRange: the key and range end the permission flags and arguments give. */
function permRange(ctx: CtlContext, args: string[]): [string, string] {
  const prefix = ctx.flags.bool("prefix");
  const fromKey = ctx.flags.bool("from-key");
  let key = args[0];
  let end = "";
  if (key.length === 0) {
    if (prefix && fromKey) throw bad("--from-key and --prefix flags are mutually exclusive");
    key = "\x00";
    if (prefix || fromKey) end = "\x00";
    return [key, end];
  }
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) throw bad("--from-key and --prefix flags are mutually exclusive");
      end = dec.decode(prefixRangeEnd(enc.encode(args[0])));
    } else if (fromKey) end = "\x00";
    return [key, end];
  }
  if (prefix) throw bad("unexpected endkey argument with --prefix flag");
  if (fromKey) throw bad("unexpected endkey argument with --from-key flag");
  return [key, args[1]];
}

async function runRoleGrant(ctx: CtlContext): Promise<void> {
  if (ctx.args.length < 3) {
    throw bad(
      "role grant command requires role name, permission type, and key [endkey] as its argument",
    );
  }
  const type = ctx.args[1].toLowerCase();
  if (!["read", "write", "readwrite"].includes(type)) {
    throw bad(`invalid permission type: ${ctx.args[1]}`);
  }
  const [key, end] = permRange(ctx, ctx.args.slice(2));
  const c = await client(ctx);
  const resp = await call(() =>
    c.auth.roleGrantPermission(ctx.args[0], type as PermissionType, key, {
      ...(end !== "" ? { end } : {}),
      signal: ctx.io.interrupt,
    })
  );
  ctx.printer.roleGrantPermission(ctx.args[0], resp);
}

async function runRoleRevoke(ctx: CtlContext): Promise<void> {
  if (ctx.args.length < 2) {
    throw bad("role revoke-permission command requires role name and key [endkey] as its argument");
  }
  const [key, end] = permRange(ctx, ctx.args.slice(1));
  const c = await client(ctx);
  const resp = await call(() =>
    c.auth.roleRevokePermission(ctx.args[0], key, {
      ...(end !== "" ? { end } : {}),
      signal: ctx.io.interrupt,
    })
  );
  ctx.printer.roleRevokePermission(ctx.args[0], ctx.args[1], end, resp);
}

const PERM_FLAGS = (verb: string): FlagSpec[] => [
  { name: "prefix", kind: "bool", def: false, help: `${verb} a prefix permission` },
  {
    name: "from-key",
    kind: "bool",
    def: false,
    help: `${verb} a permission of keys that are greater than or equal to the given key ` +
      "using byte compare",
  },
];

export const AUTH_COMMANDS: CommandSpec[] = [
  {
    path: ["auth", "enable"],
    use: "",
    short: "Enables authentication",
    flags: [],
    run: runAuthEnable,
  },
  {
    path: ["auth", "status"],
    use: "",
    short: "Returns authentication status (etcdctl 3.5)",
    flags: [],
    run: runAuthStatus,
  },
  {
    path: ["auth", "disable"],
    use: "",
    short: "Disables authentication",
    flags: [],
    run: runAuthDisable,
  },
  {
    path: ["user", "add"],
    use: "<user name or user:password> [options]",
    short: "Adds a new user",
    flags: [
      {
        name: "interactive",
        kind: "bool",
        def: true,
        help: "Read password from stdin instead of interactive terminal",
      },
      {
        name: "new-user-password",
        kind: "string",
        def: "",
        help: "Supply password from the command line flag",
      },
      {
        name: "no-password",
        kind: "bool",
        def: false,
        help: "Create a user without password (CN based auth only)",
      },
    ],
    run: runUserAdd,
  },
  {
    path: ["user", "delete"],
    use: "<user name>",
    short: "Deletes a user",
    flags: [],
    run: runUserDelete,
  },
  {
    path: ["user", "get"],
    use: "<user name> [options]",
    short: "Gets detailed information of a user",
    flags: [{
      name: "detail",
      kind: "bool",
      def: false,
      help: "Show permissions of roles granted to the user",
    }],
    run: runUserGet,
  },
  { path: ["user", "list"], use: "", short: "Lists all users", flags: [], run: runUserList },
  {
    path: ["user", "passwd"],
    use: "<user name> [options]",
    short: "Changes password of user",
    flags: [{
      name: "interactive",
      kind: "bool",
      def: true,
      help: "If true, read password from stdin instead of interactive terminal",
    }],
    run: runUserPasswd,
  },
  {
    path: ["user", "grant-role"],
    use: "<user name> <role name>",
    short: "Grants a role to a user",
    flags: [],
    run: runUserGrantRole,
  },
  {
    path: ["user", "revoke-role"],
    use: "<user name> <role name>",
    short: "Revokes a role from a user",
    flags: [],
    run: runUserRevokeRole,
  },
  {
    path: ["role", "add"],
    use: "<role name>",
    short: "Adds a new role",
    flags: [],
    run: runRoleAdd,
  },
  {
    path: ["role", "delete"],
    use: "<role name>",
    short: "Deletes a role",
    flags: [],
    run: runRoleDelete,
  },
  {
    path: ["role", "get"],
    use: "<role name>",
    short: "Gets detailed information of a role",
    flags: [],
    run: runRoleGet,
  },
  { path: ["role", "list"], use: "", short: "Lists all roles", flags: [], run: runRoleList },
  {
    path: ["role", "grant-permission"],
    use: "[options] <role name> <permission type> <key> [endkey]",
    short: "Grants a key to a role",
    flags: PERM_FLAGS("grant"),
    run: runRoleGrant,
  },
  {
    path: ["role", "revoke-permission"],
    use: "<role name> <key> [endkey]",
    short: "Revokes a key from a role",
    flags: PERM_FLAGS("revoke"),
    run: runRoleRevoke,
  },
];
