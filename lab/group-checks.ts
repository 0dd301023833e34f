import { isSameProcessAlive } from "../lib/proc.js";
import type { GroupRow } from "../lib/wire/ps-row.js";
import { serving } from "./group-watch.js";
import type { Run } from "./run.js";

// The lab's service group at a quiet moment: the HAM shows exactly one acknowledged active
// and, once settled, a standby; the member processes agree (the live one that last said it
// serves is the HAM's active, by entity and pid; the standby's said standby); and the HAM
// counted every death of a member process the lab saw (its kills, and the HAM's own fences).

const SETTLE_MS = 5_000;

const check = (run: Run, ok: boolean, invariant: string, detail: () => string): boolean => {
  run.checks += 1;
  if (!ok) run.violate(invariant, detail());
  return ok;
};

const describeRow = (row: GroupRow | undefined): string => row === undefined ? "no such group in status"
  : row.members.map((member) => `${member.name}=${member.role ?? "-"}${member.assigning === null ? "" : `(assigning ${member.assigning})`}${member.failing ? "(failing)" : ""}`).join(" ") +
    (row.switchover === null ? "" : `, switching over ${row.switchover.from} → ${row.switchover.to}`);

export async function checkGroup(run: Run): Promise<void> {
  const watch = run.group;
  if (watch === null) return;
  let row: GroupRow | undefined;
  const settled = await run.until(async () => {
    row = (await run.system.status(1_000))?.groups?.find((group) => group.name === watch.name);
    return row !== undefined && row.switchover === null && row.active.length === 1 && row.standby.length === 1 &&
      row.members.every((member) => member.assigning === null && !member.failing);
  }, SETTLE_MS, 50);
  run.lastGroupRow = row ?? run.lastGroupRow;
  check(run, row?.active.length === 1, "one active per group", () => `${watch.name}: the HAM shows active [${row?.active.join(", ") ?? ""}]: ${describeRow(row)}`);
  if (!check(run, settled, "group settled", () => `${watch.name}: no acknowledged active and standby ${SETTLE_MS} ms after the burst: ${describeRow(row)}`)) return;
  const active = row?.active[0] ?? "";
  const standby = row?.standby[0] ?? "";
  const pids = new Map<string, number>();
  for (const name of [active, standby]) pids.set(name, (await run.system.entity(name))?.pid ?? 0);
  // The members said their roles before acknowledging them; a report may still be unread.
  const disagreement = () => {
    const beliefs = watch.beliefs();
    const servingNow = beliefs.filter((member) => serving(member.reports.at(-1)?.role));
    const say = (member: (typeof beliefs)[number]) => `${member.entity} pid ${member.pid} said ${member.reports.at(-1)?.role ?? "nothing yet"}`;
    if (servingNow.length !== 1 || servingNow[0]?.entity !== active || servingNow[0].pid !== pids.get(active)) {
      return `the HAM shows ${active} (pid ${pids.get(active)}) active; the live members: ${beliefs.map(say).join(", ")}`;
    }
    const standing = beliefs.find((member) => member.entity === standby);
    if (standing === undefined || standing.pid !== pids.get(standby) || standing.reports.at(-1)?.role !== "standby") {
      return `the HAM shows ${standby} (pid ${pids.get(standby)}) standby; the live members: ${beliefs.map(say).join(", ")}`;
    }
    return "";
  };
  const agreed = await run.until(() => disagreement() === "", 1_000, 20);
  check(run, agreed, "members agree with the HAM", () => `${watch.name}: ${disagreement()}`);
  await checkMemberCounters(run);
}

// Each member process the lab saw and that is dead now was a death the HAM counted, and restarted.
async function checkMemberCounters(run: Run): Promise<void> {
  const watch = run.group;
  if (watch === null) return;
  for (const name of watch.members) {
    const dead = watch.processes.filter((member) => member.entity === name && (member.dead || !isSameProcessAlive(member.pid, member.startTime))).length;
    const info = await run.system.entity(name);
    const deaths = Number(info?.fields.get("Num Deaths") ?? -1);
    const restarts = Number(info?.fields.get("Num Restarts") ?? -1);
    check(run, deaths === dead && restarts === dead, "counters agree",
      () => `${name}: ${dead} of its processes seen dead, Num Deaths ${deaths}, Num Restarts ${restarts}`);
  }
}
