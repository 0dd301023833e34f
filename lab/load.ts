import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

// The load the lab puts on a HAM: the config file it starts with (the default one, or the
// user's), and what the lab needs to know of it to check the HAM's promises.

export const MARKER_SCRIPT = fileURLToPath(new URL("./marker.js", import.meta.url));
export const BEATER_SCRIPT = fileURLToPath(new URL("./beater.js", import.meta.url));
export const MUTATOR_SCRIPT = fileURLToPath(new URL("./mutator.js", import.meta.url));
export const MEMBER_SCRIPT = fileURLToPath(new URL("./member.js", import.meta.url));

// The lab's 2N service group: its name and members (each an entity the HAM starts).
export interface LabGroup {
  readonly name: string;
  readonly members: readonly string[];
}

export interface Load {
  // The config as the HAM first reads it (the lab edits a copy of it).
  readonly config: Record<string, unknown>;
  // Entities with a restart action: each must have exactly one live process at a quiet moment.
  readonly restartable: readonly string[];
  // Those whose restart is never delayed by their own policy (minUptimeMs 0): their restart
  // latency is judged against the normal figure.
  readonly prompt: readonly string[];
  // The crash-looping entity and the one with a multistage recovery, when the lab made them.
  readonly flapper: string | null;
  readonly staged: string | null;
  // Its processes die only by the lab's hand, so their deaths and restarts must equal its kills.
  readonly countDeaths: boolean;
  // Not among `restartable`: their deaths are the lab's kills and the HAM's fences.
  readonly group: LabGroup | null;
}

const REARM = ["HREARMAFTERRESTART"];
const restartOnDeath = (extra: readonly Record<string, unknown>[] = []) => [{
  name: "death", type: "CONDDEATH", flags: REARM,
  actions: [{ name: "restart", kind: "restart", flags: REARM }, ...extra],
}];

// 50 sleeping services, four in five restarted at once (minUptimeMs 0) and one in five with
// the default policy (a death within 1 s of its start waits a backoff), one entity that exits
// 0.3 s after each start (its backoff grows to 30 s), and one whose recovery is restart →
// waitfor 300 ms → execute; and a 2N group of two members (member.ts) restarted at once, each
// reporting its roles to the lab's socket `labSocket`.
export function defaultLoad(entities: number, marksFile: string, labSocket: string): Load {
  const services = Array.from({ length: entities }, (_, index) => `svc-${index + 1}`);
  const prompt = services.filter((_, index) => index % 5 !== 4);
  const group: LabGroup = { name: "lab-group", members: ["grp-a", "grp-b"] };
  const config = {
    entities: [
      ...services.map((name) => ({
        name, command: "/bin/sleep 86400", ...(prompt.includes(name) ? { policy: { minUptimeMs: 0 } } : {}), conditions: restartOnDeath(),
      })),
      { name: "flapper", command: "/bin/sleep 0.3", conditions: restartOnDeath() },
      {
        name: "staged", command: "/bin/sleep 86400", policy: { minUptimeMs: 0 }, conditions: restartOnDeath([
          { name: "settle", kind: "waitfor", delay: 300, flags: REARM },
          { name: "mark", kind: "execute", line: `${process.execPath} ${MARKER_SCRIPT} ${marksFile}`, flags: REARM },
        ]),
      },
      ...group.members.map((name) => ({
        name, command: `${process.execPath} ${MEMBER_SCRIPT} ${labSocket}`, policy: { minUptimeMs: 0 }, conditions: restartOnDeath(),
      })),
    ],
    groups: [{ name: group.name, model: "2N", members: group.members }],
  };
  return {
    config, restartable: [...services, "flapper", "staged"], prompt: [...prompt, "staged"], flapper: "flapper", staged: "staged", countDeaths: true, group,
  };
}

// A user's config file: every entity with a command and a restart action is restartable;
// its restart latency is judged when its policy restarts it at once (minUptimeMs 0).
// A .yaml or .yml file is YAML, as for the HAM; the lab hands the HAM its copy as JSON.
export function userLoad(path: string): Load {
  const text = readFileSync(path, "utf8");
  const config = (/\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text)) as Record<string, unknown>;
  const restartable: string[] = [];
  const prompt: string[] = [];
  for (const entity of (config["entities"] ?? []) as Array<Record<string, unknown>>) {
    const name = String(entity["name"]);
    const conditions = (entity["conditions"] ?? []) as Array<{ actions?: Array<{ kind?: string }> }>;
    const restarts = conditions.some((condition) => (condition.actions ?? []).some((action) => action.kind === "restart"));
    if (typeof entity["command"] !== "string" || !restarts) continue;
    restartable.push(name);
    if ((entity["policy"] as { minUptimeMs?: number } | undefined)?.minUptimeMs === 0) prompt.push(name);
  }
  return { config, restartable, prompt, flapper: null, staged: null, countDeaths: false, group: null };
}

// The config with `extras` placeholder entities added: the lab's config edits.
export function withExtras(config: Record<string, unknown>, extras: readonly string[]): Record<string, unknown> {
  const entities = [...((config["entities"] ?? []) as unknown[]), ...extras.map((name) => ({ name, placeholder: true }))];
  return { ...config, entities };
}
