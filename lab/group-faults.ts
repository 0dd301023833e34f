import { HAMFAULTFATAL } from "../lib/constants.js";
import { monoMs } from "./group-watch.js";
import { sleep, type Run } from "./run.js";

// The faults that take the lab's service group's active away (a SIGKILL, a fatal fault raised
// through the API, either beside a HAM death), and a manual switchover beside them. Each
// acts on the member process the lab believes active (its last report serves, it is alive),
// and then awaits a member saying "active" again. Null: nothing to act on (not counted).

export async function killActive(run: Run, fault: string): Promise<string | null> {
  const member = run.group?.believedActive() ?? null;
  if (run.group === null || member === null) return null;
  const at = monoMs();
  if (!run.kill(member.pid, member.startTime)) return null;
  run.group.awaitActive(fault, `${member.entity} pid ${member.pid} SIGKILLed`, at);
  return `${member.entity} (pid ${member.pid})`;
}

// ham_entity_condition_raise(…, HAMFAULTFATAL) on the active: the HAM kills it (the fence),
// then makes the standby active. A raise whose outcome is unknown (no reply) is not awaited.
export async function fatalActive(run: Run, fault: string): Promise<string | null> {
  const member = run.group?.believedActive() ?? null;
  if (run.group === null || member === null) return null;
  const at = monoMs();
  try {
    await run.system.ask("entity_condition_raise", { ename: member.entity, rtype: 1, rclass: 1, rseverity: HAMFAULTFATAL, flags: 0 }, 1_000);
  } catch {
    return null;
  }
  run.group.awaitActive(fault, `${member.entity} pid ${member.pid} raised a fatal fault`, at);
  return `fatal fault on ${member.entity} (pid ${member.pid})`;
}

// The active dies just before or after the HAM, or raises a fatal fault just before the HAM
// dies (the HAM may die between noting the failure and its fence).
export async function activeAndHam(run: Run): Promise<string | null> {
  const roll = run.random.next();
  const gap = run.random.between(0, 100);
  if (roll < 1 / 3) {
    const pid = await run.killHam();
    if (pid === 0) return null;
    await sleep(gap);
    return `HAM ${pid}, then ${(await killActive(run, "kill-active-and-ham")) ?? "no active"}`;
  }
  const what = roll < 2 / 3 ? await killActive(run, "kill-active-and-ham") : await fatalActive(run, "kill-active-and-ham");
  if (what === null) return null;
  await sleep(roll < 2 / 3 ? gap : gap / 5);
  const pid = await run.killHam();
  return `${what}, then ${pid === 0 ? "no HAM" : `HAM ${pid}`}`;
}

// A graceful switchover (quiescing → quiesced, the standby active, the old active standby):
// at most one serves throughout. Refused (EBUSY) while the group is not settled: not counted.
export async function switchover(run: Run): Promise<string | null> {
  if (run.group === null) return null;
  try {
    const started = (await run.system.ask("group_switchover", { gname: run.group.name }, 1_000)) as { from: string; to: string };
    return `${started.from} → ${started.to}`;
  } catch {
    return null;
  }
}

// A switchover broken in the middle: 0–15 ms after it starts, the standby it hands over to is
// SIGKILLed, or the HAM is. The old active must serve on (or the group fail over): a quiet
// moment checks that the group has an acknowledged active and a standby again.
export async function brokenSwitchover(run: Run): Promise<string | null> {
  if (run.group === null) return null;
  let started: { from: string; to: string };
  try {
    started = (await run.system.ask("group_switchover", { gname: run.group.name }, 1_000)) as { from: string; to: string };
  } catch {
    return null;
  }
  await sleep(run.random.between(0, 15));
  if (run.random.next() < 0.5) {
    const pid = await run.killHam();
    return `${started.from} → ${started.to}, then ${pid === 0 ? "no HAM" : `HAM ${pid}`}`;
  }
  const standby = run.group.beliefs().find((member) => member.entity === started.to) ?? null;
  const killed = standby !== null && run.kill(standby.pid, standby.startTime);
  return `${started.from} → ${started.to}, then ${killed ? `${started.to} (pid ${standby?.pid}) SIGKILLed` : "no standby to kill"}`;
}
