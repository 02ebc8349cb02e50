/**
 * `--config-file`: etcd's YAML configuration file (etcd's embed.Config keys: the flag names,
 * with TLS under `client-transport-security` and `peer-transport-security`), read into the
 * same flag values the command line gives, so one table gives every key its meaning.
 *
 * Types follow etcd's YAML decoding (sigs.k8s.io/yaml into Go fields): numbers for integer
 * keys, booleans for boolean keys, durations as integers of nanoseconds (Go's time.Duration),
 * lists or comma-separated strings for lists; a null value (`data-dir:`) keeps the default.
 * etcd ignores unknown keys silently; Concord ignores them too, with a warning naming each.
 */
import { parse } from "yaml";
import { ConfigError } from "../server/config.ts";
import type { FlagDef, Notice } from "./serve_flag_types.ts";

/** The flag each key of a transport-security section sets. */
const SECURITY_KEYS: Record<"client" | "peer", Record<string, string>> = {
  client: {
    "cert-file": "cert-file",
    "key-file": "key-file",
    "client-cert-file": "client-cert-file",
    "client-key-file": "client-key-file",
    "client-cert-auth": "client-cert-auth",
    "trusted-ca-file": "trusted-ca-file",
    "auto-tls": "auto-tls",
    "allowed-hostname": "client-cert-allowed-hostname",
  },
  peer: {
    "cert-file": "peer-cert-file",
    "key-file": "peer-key-file",
    "client-cert-file": "peer-client-cert-file",
    "client-key-file": "peer-client-key-file",
    "client-cert-auth": "peer-client-cert-auth",
    "trusted-ca-file": "peer-trusted-ca-file",
    "auto-tls": "peer-auto-tls",
    "allowed-cn": "peer-cert-allowed-cn",
    "allowed-hostname": "peer-cert-allowed-hostname",
  },
};

/** Keys whose YAML name differs from their flag's. */
const RENAMED: Record<string, string> = {
  "experimental-snapshot-catch-up-entries": "experimental-snapshot-catchup-entries",
};

/** `socket-options` (etcd's transport.SocketOpts) keys and their flags. */
const SOCKET_KEYS: Record<string, string> = {
  "reuse-port": "socket-reuse-port",
  "reuse-address": "socket-reuse-address",
};

/** A YAML value as the flag's text, type-checked as etcd's decoding checks it. */
function flagText(key: string, def: FlagDef, value: unknown): string {
  const wrong = (want: string) =>
    new ConfigError(
      `config file: "${key}" must be ${want}, got ${JSON.stringify(value)}`,
    );
  switch (def.kind) {
    case "bool":
      if (typeof value !== "boolean") throw wrong("true or false");
      return String(value);
    case "uint":
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) throw wrong("an integer");
      return String(value);
    case "duration":
      // Go's time.Duration decodes from a number of nanoseconds, never from "100ms"
      if (typeof value !== "number" || !Number.isInteger(value)) {
        throw wrong(
          "an integer number of nanoseconds (etcd decodes durations as Go's time.Duration)",
        );
      }
      return `${value}ns`;
    case "strings":
      if (Array.isArray(value)) {
        if (!value.every((v) => ["string", "number", "boolean"].includes(typeof v))) {
          throw wrong("a list of strings");
        }
        return value.map(String).join(",");
      }
      if (typeof value === "string") return value;
      throw wrong("a list of strings");
    case "string":
    case "urls":
      // sigs.k8s.io/yaml turns any scalar into the string a string field wants
      if (["string", "number", "boolean"].includes(typeof value)) return String(value);
      throw wrong("a string");
  }
}

/** The outcome of reading a config file: flag values, and notices about ignored keys. */
export interface ConfigFileValues {
  given: Map<string, string>;
  notices: Notice[];
}

/**
 * Reads etcd's YAML config text into flag values. `flags` is the flag table; a key of a flag
 * Concord does not know is ignored with a warning, as etcd ignores it (silently).
 */
export function configFileValues(
  text: string,
  flags: Readonly<Record<string, FlagDef>>,
): ConfigFileValues {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(`config file: ${(err as Error).message}`);
  }
  const given = new Map<string, string>();
  const notices: Notice[] = [];
  if (doc === null || doc === undefined) return { given, notices };
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError("config file: the top level must be a mapping of keys to values");
  }
  const set = (key: string, flag: string, value: unknown) => {
    if (value === null || value === undefined) return;
    const def = flags[flag];
    if (!def) {
      notices.push({
        level: "warn",
        msg: "unknown configuration key in config file; ignored",
        fields: { key },
      });
      return;
    }
    given.set(flag, flagText(key, def, value));
  };
  const section = (key: string, value: unknown, keys: Record<string, string>) => {
    if (value === null || value === undefined) return;
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError(`config file: "${key}" must be a mapping`);
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const flag = keys[k];
      if (key === "client-transport-security" && k === "allowed-cn") {
        if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
        throw new ConfigError(
          `config file: ${key}.${k} is not supported by Concord: client certificates are not matched against allowed CNs`,
        );
      }
      if (flag === undefined) {
        notices.push({
          level: "warn",
          msg: "unknown configuration key in config file; ignored",
          fields: { key: `${key}.${k}` },
        });
      } else set(`${key}.${k}`, flag, v);
    }
  };
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === "client-transport-security") section(key, value, SECURITY_KEYS.client);
    else if (key === "peer-transport-security") section(key, value, SECURITY_KEYS.peer);
    else if (key === "socket-options") section(key, value, SOCKET_KEYS);
    else if (key === "config-file" || key === "version" || key === "help") {
      notices.push({
        level: "warn",
        msg: "unknown configuration key in config file; ignored",
        fields: { key },
      });
    } else set(key, RENAMED[key] ?? key, value);
  }
  return { given, notices };
}
