import { readFileSync } from "node:fs";
import { NODE_NAME } from "../../lib/names.js";
import { HamError } from "../../lib/errors.js";
import { checkConfigShape, type ConfigCluster } from "../core/schema.js";
import { formatOf, readConfigText } from "../server/config-text.js";
import type { ClusterOptions } from "./ham-options.js";
import { DEFAULTS } from "./defaults.js";

// The cluster options of a `ham`: the config file's `cluster:` section, then the command line's
// flags, which win field by field. The etcd password is never read from the file (a file is read
// by more people than an environment): --etcd-password or HAMD_ETCD_PASSWORD only.

// What the command line said (null: not given).
export interface ClusterFlags {
  node: string | null;
  etcd: string | null;
  name: string | null;
  ca: string | null;
  cert: string | null;
  key: string | null;
  user: string | null;
  password: string | null;
  leaseTtlS: number | null;
}

// The file's settings are wrong (one line, exit 1), as against a usage error (exit 2).
export class ClusterConfigError extends Error {}

// The `cluster:` section of a config file; null when it has none. A file that cannot be read or
// is wrong elsewhere is left to the HAM's own load of it (which says why, with the line, as it
// always did); a wrong cluster section is one line here, since the HAM would start without it.
export function readClusterSection(file: string): ConfigCluster | null {
  let raw: unknown;
  try {
    raw = readConfigText(readFileSync(file, "utf8"), formatOf(file)).value;
    checkConfigShape(raw);
  } catch (error) {
    const message = error instanceof HamError ? error.message.replace(/^[A-Z]+: /, "") : "";
    if (message.startsWith("cluster")) throw new ClusterConfigError(`${file}: ${message}`);
    return null;
  }
  return raw.cluster ?? null;
}

// Flags over the file; checks what goes together. Throws ClusterConfigError with a one-line message.
export function resolveCluster(flags: ClusterFlags, file: ConfigCluster | null): ClusterOptions | null {
  const node = flags.node ?? file?.node ?? null;
  const etcd = flags.etcd === null ? file?.etcd ?? null : flags.etcd.split(",").map((url) => url.trim()).filter((url) => url !== "");
  if (node === null && etcd === null) return null;
  const where = file === null ? "" : " (command line or the config file's cluster section)";
  if (node === null || etcd === null || etcd.length === 0) throw new ClusterConfigError(node === null ? `--etcd needs --node NAME${where}` : `--node needs --etcd URL[,URL...]${where}`);
  const name = flags.name ?? file?.name ?? "hamd";
  if (!NODE_NAME.test(node)) throw new ClusterConfigError(`--node takes a name of letters, digits, '.', '_' and '-' (up to 63), not ${node}`);
  if (!NODE_NAME.test(name)) throw new ClusterConfigError(`--cluster takes a name of letters, digits, '.', '_' and '-', not ${name}`);
  const cert = flags.cert ?? file?.cert ?? null;
  const key = flags.key ?? file?.key ?? null;
  if ((cert === null) !== (key === null)) throw new ClusterConfigError("--etcd-cert and --etcd-key go together");
  return {
    name, node, etcd, cert, key, ca: flags.ca ?? file?.ca ?? null, user: flags.user ?? file?.user ?? null, password: flags.password,
    leaseTtlS: flags.leaseTtlS ?? file?.leaseTtl ?? DEFAULTS.leaseTtlS,
  };
}
