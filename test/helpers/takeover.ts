import { environOf, pidsWithEnv } from "../../dist/lib/proc.js";
import * as ham from "../../dist/lib/index.js";
import { Session } from "../../dist/lib/client/session.js";
import { eventually, isAlive, type HamInstance } from "./ham-instance.js";

// What the takeover tests look at: the HAM's status, its whole tree, the processes started
// for an entity, and a kill of the HAM that waits for its Guardian to take over.

export interface Status {
  hamPid: number;
  guardianPid: number;
  hamFailures: number;
  guardianFailures: number;
  entities: number;
  conditions: number;
  actions: number;
}

export async function status(runDir: string): Promise<Status> {
  const session = await Session.open(runDir);
  try {
    return (await session.request("status", {})) as Status;
  } finally {
    session.close();
  }
}

// Every path of the /ham tree, with the QNX lines that must survive a takeover unchanged.
export async function treeOf(runDir: string): Promise<string[]> {
  const session = await Session.open(runDir);
  const out: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const node = (await session.request("ls", { path })) as { entries: Array<{ name: string; type: string }> };
    for (const entry of node.entries) {
      const child = `${path === "/" ? "" : path}/${entry.name}`;
      if (entry.type === "dir") await walk(child);
      else if (child !== "/.info") {
        const text = String(await session.request("cat", { path: child }));
        out.push(`${child}: ${text.split("\n").filter((line) => /^(Entity Pid|Num|Entity type|Condition type|Restart Line|Re-arm)/.test(line)).join("; ")}`);
      }
    }
  };
  try {
    await walk("/");
  } finally {
    session.close();
  }
  return out.sort();
}

// Live processes started for `entity` by the HAMs of runDir.
export function processesOf(runDir: string, entity: string): number[] {
  return pidsWithEnv(`HAM_RUN_DIR=${runDir}`).filter((pid) => environOf(pid).includes(`HAM_ENTITY=${entity}`) && isAlive(pid));
}

// The Guardian shows its pid once it is ready to take over.
export function guardianReady(runDir: string): Promise<Status> {
  return eventually(async () => {
    const now = await status(runDir);
    return now.guardianPid > 0 ? now : null;
  }, 10_000, "the Guardian to be ready");
}

export async function killHam(instance: HamInstance): Promise<{ before: Status; after: Status }> {
  const before = await guardianReady(instance.runDir);
  process.kill(before.hamPid, "SIGKILL");
  const after = await eventually(async () => {
    const now = await status(instance.runDir).catch(() => null);
    return now !== null && now.hamPid !== before.hamPid ? now : null;
  }, 10_000, "the Guardian to take over");
  return { before, after };
}

export async function attachSleeper(name: string): Promise<void> {
  await ham.ham_connect(0);
  const entity = await ham.ham_attach(name, 0, -1, "/bin/sleep 1000", 0);
  await ham.ham_entity_policy(entity, { minUptimeMs: 0 });
  const death = await ham.ham_condition(entity, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
  await ham.ham_action_restart(death, "restart", "/bin/sleep 1000", ham.HREARMAFTERRESTART);
}

