import type { GroupRow } from "../../lib/wire/ps-row.js";
import { availabilityOf } from "../core/availability.js";
import type { GroupState, HamState } from "../core/state.js";
import { groupServes } from "../core/tx.js";
import { waitingFor, type NodesKnown } from "../core/groups/cluster-groups.js";
import { figures } from "./ps.js";

// Service groups as the HAM shows them: rows for `status --json` and `hamctl ps` (live
// figures), and the bytes of /ham/.groups/<group>/.info (figures as of the group's last change,
// so the file's bytes change only with events, like an entity's .info).

export const GROUPS_DIR = ".groups";

function membersOf(group: GroupState): GroupRow["members"] {
  return group.members.map((member) => ({
    name: member.name, role: member.role, assigning: member.assigning?.role ?? null, failing: member.failing,
  }));
}

export function groupRow(group: GroupState, wallMs: number, monoMs: number, nodes: NodesKnown = {}): GroupRow {
  const { counters } = group;
  const named = (role: string) => group.members.filter((member) => member.role === role).map((member) => member.name);
  return {
    name: group.name, model: group.model, members: membersOf(group),
    active: named("active"), standby: named("standby"),
    switchover: group.switchover === null ? null : { from: group.switchover.from, to: group.switchover.to },
    noActiveForMs: group.failure === null ? null : Math.max(0, Math.round(monoMs - group.failure.at)),
    failovers: counters.failovers, switchovers: counters.switchovers, failures: counters.failures,
    lastFailoverMs: counters.lastFailoverMs, lastSwitchoverMs: counters.lastSwitchoverMs,
    ...figures(availabilityOf(counters, counters.failures, groupServes(group), wallMs)),
    ...(group.cluster === undefined ? {} : { cluster: { members: group.cluster.members, holder: group.cluster.holder, token: group.cluster.token, waiting: waitingFor(nodes, group) } }),
  };
}

export function groupRows(state: HamState, wallMs: number, monoMs: number): GroupRow[] {
  return [...state.groups.values()].map((group) => groupRow(group, wallMs, monoMs, state.meta)).sort((a, b) => (a.name < b.name ? -1 : 1));
}

const text = (value: number | null, unit = "") => (value === null ? "-" : `${value}${unit}`);

// Across nodes: "db@n1 -> db@n2 (across nodes, election given up)" once this node yielded.
function switchoverText(group: GroupState, nodes: NodesKnown): string {
  const switching = group.switchover;
  if (switching === null) return "none";
  if (switching.across == null) return `${switching.from} -> ${switching.to}`;
  const yielded = switching.across.until === null ? "" : ", election given up";
  return `${switching.from}@${nodes.node ?? "?"} -> ${switching.to} (across nodes${yielded})`;
}

export function renderGroupInfo(group: GroupState, nodes: NodesKnown = {}): string {
  const { counters } = group;
  const figures = availabilityOf(counters, counters.failures, groupServes(group), counters.since ?? counters.createdMs);
  const rows: Array<readonly [string, string | number]> = [
    ["Group", group.name],
    ["Model", group.model],
    ["Num Members", group.members.length],
    ...group.members.map((member) => [
      `Member ${member.name}`,
      `${member.role ?? "none"}${member.assigning === null ? "" : ` (assigning ${member.assigning.role})`}${member.failing ? " (failed, being stopped)" : ""}`,
    ] as const),
    ...(group.cluster === undefined ? [] : [
      ["Cluster Members", group.cluster.members.join(", ")],
      ["Held By", group.cluster.holder === null ? "nobody" : `${group.cluster.holder}${group.cluster.token === null ? "" : ` (token ${group.cluster.token})`}`],
      ["Waiting For", waitingFor(nodes, group).join(", ") || "-"],
    ] as const),
    ["Switchover", switchoverText(group, nodes)],
    ["Ack Timeout", `${group.ackTimeoutMs} ms`],
    ["Failures", counters.failures],
    ["Failovers", counters.failovers],
    ["Last Failover", text(counters.lastFailoverMs, " ms")],
    ["Switchovers", counters.switchovers],
    ["Last Switchover", text(counters.lastSwitchoverMs, " ms")],
    ["Time Up", `${Math.round(figures.upMs)} ms`],
    ["Time Down", `${Math.round(figures.downMs)} ms`],
    ["MTTR", text(figures.mttrMs === null ? null : Math.round(figures.mttrMs), " ms")],
    ["MTBF", text(figures.mtbfMs === null ? null : Math.round(figures.mtbfMs), " ms")],
    ["Availability", text(figures.percent === null ? null : Number(figures.percent.toFixed(3)), " %")],
    ["Availability 24h", text(figures.percent24h === null ? null : Number(figures.percent24h.toFixed(3)), " %")],
  ];
  return rows.map(([label, value]) => `${label.padEnd(17)}: ${value}\n`).join("");
}
