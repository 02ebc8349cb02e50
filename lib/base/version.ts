/** Concord's own version, shown by `concord version` and `/version`. */
export const VERSION = "0.1.0";

/** The etcd server version Concord reports to clients, which gate features on it. */
export const ETCD_COMPAT_VERSION = "3.5.0";

/** The etcd cluster version Concord reports. */
export const ETCD_CLUSTER_VERSION = "3.5.0";
