import { CLUSTER_FAULT_WEIGHTS } from "./cluster-fault-kinds.js";
import { FAULT_WEIGHTS } from "./faults.js";
import { randomSeed } from "./random.js";

export interface LabOptions {
  readonly seed: number;
  readonly seconds: number;
  readonly steps: number | null;
  readonly entities: number;
  readonly clients: number;
  readonly config: string | null;
  readonly json: boolean;
  readonly mount: boolean;
  readonly watchdogMs: number;
  // Only these fault kinds (all when null).
  readonly faults: readonly string[] | null;
  // A cluster of this many nodes on a 3-member etcd (null: one HAM, as before).
  readonly nodes: number | null;
  // In a cluster: the cross-node 2N group `xgroup` (members xg@n1, xg@n2).
  readonly crossGroup: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: ham-lab [--seed N] [--seconds N] [--steps N] [--entities N] [--clients N]
               [--config FILE] [--faults KIND,...] [--no-mount] [--watchdog-ms N] [--json]
               [--nodes N [--no-cross-group]]
  Starts a HAM in a temporary run directory under a load (default: N restartable entities,
  self-attached heartbeating clients, a crash-looping entity, a 2N service group of two
  members, the /ham view when FUSE is here, a client mutating the tree, a config file),
  injects faults chosen from the seed at random moments 50 ms to 1 s apart, checks the HAM's
  promises at every quiet moment (and the group's as its members report their roles), and
  reports. Exit 1 on any violation. --config FILE tortures your configuration instead of the
  default entities; --faults picks the kinds (${Object.keys(FAULT_WEIGHTS).join(", ")});
  --steps N stops after step N (to replay a violation with its seed).
  --nodes N (2-9) runs a cluster instead: a 3-member etcd on loopback and N nodes (each a HAM
  behind its own etcd proxy, under 1/N of the default load unless --entities/--clients say), a 2N group xgroup across n1 and n2, and
  the cluster's faults (${Object.keys(CLUSTER_FAULT_WEIGHTS).join(", ")}) mixed into each
  node's own; --no-cross-group leaves xgroup out. Needs etcd (apt-get install etcd-server).`;

export class UsageError extends Error {}

// One machine's default load (a cluster on one machine divides it among its nodes).
const DEFAULT_ENTITIES = 50;
const DEFAULT_CLIENTS = 10;

export function parseLabArgs(argv: readonly string[]): LabOptions {
  const options = { seed: randomSeed(), seconds: 60, steps: null as number | null, entities: 0, clients: -1, config: null as string | null,
    json: false, mount: true, watchdogMs: 1_000, faults: null as string[] | null, nodes: null as number | null, crossGroup: true, help: false };
  const kinds = { ...FAULT_WEIGHTS, ...CLUSTER_FAULT_WEIGHTS };
  const args = [...argv];
  const number = (flag: string, min: number): number => {
    const text = args.shift();
    const value = Number(text);
    if (text === undefined || !Number.isSafeInteger(value) || value < min) throw new UsageError(`${flag} takes an integer >= ${min}`);
    return value;
  };
  while (args.length > 0) {
    const flag = args.shift() ?? "";
    if (flag === "--seed") options.seed = number(flag, 0);
    else if (flag === "--seconds") options.seconds = number(flag, 1);
    else if (flag === "--steps") options.steps = number(flag, 1);
    else if (flag === "--entities") options.entities = number(flag, 1);
    else if (flag === "--clients") options.clients = number(flag, 0);
    else if (flag === "--watchdog-ms") options.watchdogMs = number(flag, 100);
    else if (flag === "--config") {
      const file = args.shift();
      if (file === undefined) throw new UsageError("--config takes a file");
      options.config = file;
    } else if (flag === "--faults") {
      const picked = (args.shift() ?? "").split(",").filter(Boolean);
      const unknown = picked.filter((kind) => !Object.hasOwn(kinds, kind));
      if (picked.length === 0 || unknown.length > 0) throw new UsageError(`--faults takes a comma-separated list of: ${Object.keys(kinds).join(", ")}`);
      options.faults = picked;
    } else if (flag === "--nodes") {
      options.nodes = number(flag, 2);
      if (options.nodes > 9) throw new UsageError("--nodes takes an integer from 2 to 9");
    } else if (flag === "--no-cross-group") options.crossGroup = false;
    else if (flag === "--no-mount") options.mount = false;
    else if (flag === "--json") options.json = true;
    else if (flag === "--help" || flag === "-h") options.help = true;
    else throw new UsageError(`unknown option ${flag}`);
  }
  const clusterKinds = options.faults?.filter((kind) => Object.hasOwn(CLUSTER_FAULT_WEIGHTS, kind)) ?? [];
  if (options.nodes === null && clusterKinds.length > 0) throw new UsageError(`${clusterKinds.join(", ")} need --nodes N`);
  // The default load is one machine's: a cluster on this one machine shares it among its nodes
  // (50 entities and 10 clients in all), so each HAM has the cycles its timing promises assume.
  const share = (total: number) => Math.ceil(total / (options.nodes ?? 1));
  if (options.entities === 0) options.entities = share(DEFAULT_ENTITIES);
  if (options.clients === -1) options.clients = share(DEFAULT_CLIENTS);
  return options;
}

// The options that shape a run, to print in a replay command line.
export function replayArgs(options: LabOptions): string[] {
  const args = ["--seconds", String(options.seconds), "--entities", String(options.entities), "--clients", String(options.clients)];
  if (options.config !== null) args.push("--config", options.config);
  if (!options.mount) args.push("--no-mount");
  if (options.watchdogMs !== 1_000) args.push("--watchdog-ms", String(options.watchdogMs));
  if (options.faults !== null) args.push("--faults", options.faults.join(","));
  if (options.nodes !== null) args.push("--nodes", String(options.nodes), ...(options.crossGroup ? [] : ["--no-cross-group"]));
  return args;
}
