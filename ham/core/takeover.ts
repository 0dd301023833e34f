import { armHeartbeat } from "./beats.js";
import { episodeAdd, episodeDone } from "./episodes.js";
import type { TakeoverFacts } from "./events.js";
import { enqueue, fire } from "./firings.js";
import { restarted } from "./restart.js";
import { periodMs, watched } from "./heartbeat.js";
import { died } from "./lifecycle.js";
import { LOG_LEVEL } from "./log-levels.js";
import type { Firing } from "./state.js";
import type { Tx } from "./tx.js";

// A HAM carries on from the state of one that is gone (records.ts read it back): processes its
// predecessor spawned but did not note are found by their spawn token, the firings under way
// continue in the order they fired, every live process is adopted (polled: it is no longer
// this HAM's child) and every one that died meanwhile gets its death conditions.
export function takeOver(tx: Tx, facts: TakeoverFacts, firings: readonly Firing[]): void {
  tx.setMeta({ hamPid: facts.hamPid, hamFailures: tx.meta.hamFailures + (facts.takeover ? 1 : 0) });
  for (const [name, found] of facts.found) {
    const entity = tx.entity(name);
    if (entity === undefined || entity.run.pid !== 0) continue;
    tx.log(LOG_LEVEL.events, "info", { event: "adopt", entity: name, pid: found.pid },
      `${name}: pid ${found.pid}, spawned by the HAM that died, found by its spawn token`);
    if (entity.run.episode === null) {
      // An attach's spawn.
      tx.run(name, { pid: found.pid, startTime: found.startTime });
      continue;
    }
    // A restart's spawn: that process is the restart (starting another is a duplicate).
    restarted(tx, name, found.pid, found.startTime);
    fire(tx, name, { kind: "restart" }, true);
  }
  for (const firing of firings) {
    if (firing.episode) episodeAdd(tx, firing.entity);
    enqueue(tx, firing);
  }
  let adopted = 0;
  let deaths = 0;
  for (const entity of [...tx.entities.values()]) {
    const { pid, startTime } = entity.run;
    if (pid <= 0) continue;
    if (facts.alive.get(entity.name) === true) {
      adopted += 1;
      tx.run(entity.name, { ownChild: false });
      tx.emit({ kind: "watch-pid", entity: entity.name, pid, startTime, adopted: true });
      // Heartbeat deadlines start again with one period of grace.
      const beat = entity.run.heartbeat;
      if (watched(entity.spec.heartbeat) && beat !== null && beat.state !== "MISSEDHIGH") {
        armHeartbeat(tx, entity.name, periodMs(entity.spec.heartbeat));
      }
    } else {
      deaths += 1;
      died(tx, entity.name, pid, false, "died while no HAM was watching; exit status unknown");
    }
  }
  // The episodes read back end once their firings do. Only those: a death found just now has
  // an episode of its own, already counted down.
  for (const entity of [...tx.entities.values()]) {
    const episode = entity.run.episode;
    if (episode === null || !episode.resumed) continue;
    tx.run(entity.name, { episode: { ...episode, resumed: false } });
    episodeDone(tx, entity.name);
  }
  const summary = { entities: tx.entities.size, adopted, died: deaths, resumed: firings.length, torn: facts.torn };
  tx.log(LOG_LEVEL.events, "info", { event: facts.takeover ? "takeover" : "recovered", ...summary }, facts.takeover
    ? `took over from the dead HAM: ${summary.entities} entities, ${adopted} processes adopted, ${deaths} died meanwhile`
    : `recovered the state of a HAM that is gone: ${summary.entities} entities, ${adopted} processes adopted, ${deaths} died meanwhile`);
}
