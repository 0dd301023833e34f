import { HENTITYKEEPONDEATH } from "../lib/constants.js";
import { entityPath } from "../lib/tree/render.js";
import type { Condition, Entity } from "../lib/tree/types.js";
import { ActionQueues } from "./action-queues.js";
import { LOG_LEVEL, type ActivityLog } from "./activity-log.js";
import { conditionMatches, describeEvent, type HamEvent } from "./events.js";
import { FiringRunner, type ActionEffects, type Firing } from "./firing.js";
import { markHealthy } from "./heartbeat-clock.js";
import { HeartbeatTimers } from "./heartbeats.js";
import { PidPoller } from "./pid-poller.js";
import { spawnEnv, spawnLine, type ExitInfo } from "./processes.js";
import { restartEntity, type RestartHost } from "./restarts.js";
import { pruneAfterRestart } from "./pruning.js";
import { Episode, type StateHooks } from "./episodes.js";
import type { HamTree } from "./tree.js";

export interface MonitorOptions {
  readonly runDir: string;
  readonly pidPollMs: number;
  readonly selfCloseGraceMs: number;
}

// Watches entity processes and turns what happens to them into condition firings.
export class Monitor {
  readonly heartbeats: HeartbeatTimers;
  readonly runner: FiringRunner;
  private readonly queues = new ActionQueues();
  private readonly poller: PidPoller;
  private readonly episodes = new Map<Entity, Episode>();
  // Firings queued or running, by id (the shared state keeps them).
  readonly firings = new Map<number, Firing>();
  private stopped = false; // after stop(), deaths are the next HAM's business
  private readonly restartHost: RestartHost;

  constructor(
    private readonly tree: HamTree,
    private readonly log: ActivityLog,
    effects: Omit<ActionEffects, "restart" | "execute" | "healthy">,
    private readonly options: MonitorOptions,
    private readonly state: StateHooks,
  ) {
    this.poller = new PidPoller(options.pidPollMs);
    this.restartHost = {
      tree, log, state,
      spawn: (entity, line) => this.spawn(entity, line),
      watchPid: (entity, pid, startTime) => this.watchPid(entity, pid, startTime),
      fire: (entity, event, episode) => this.fire(entity, event, episode),
    };
    this.heartbeats = new HeartbeatTimers((entity, kind, lateMs) => this.onMissedHeartbeat(entity, kind, lateMs));
    this.runner = new FiringRunner({
      ...effects,
      restart: (entity, line) => restartEntity(this.restartHost, entity, line, this.episodes.get(entity) ?? null),
      execute: (entity, line) => this.execute(entity, line),
      healthy: (entity) => this.healthy(entity),
    }, log, (firing) => {
      this.state.firing(firing, false);
      this.state.changed(firing.owner);
      this.state.conditionChanged(firing.owner, firing.condition);
      this.state.changed(firing.entity);
    }, (firing) => {
      this.state.firing(firing, false);
      this.state.flush();
    });
  }

  // Fires every enabled condition of `entity` and of the global entity that matches.
  fire(entity: Entity, event: HamEvent, episode: Episode | null = null): number {
    if (!entity.enabled) return 0;
    let count = 0;
    const owners = entity.kind === "global" ? [entity] : [entity, this.tree.global];
    for (const owner of owners) {
      if (!owner.enabled) continue;
      for (const condition of owner.conditions.values()) {
        if (!condition.enabled || !conditionMatches(condition, event)) continue;
        const actions = [...condition.actions.values()];
        condition.fired += 1;
        this.state.conditionChanged(owner, condition);
        this.enqueue({ id: this.state.nextFiringId(), entity, owner, condition, actions, event, episode: episode !== null, next: 0, waitUntil: null, launched: null }, episode);
        count += 1;
      }
    }
    return count;
  }

  private enqueue(firing: Firing, episode: Episode | null): void {
    episode?.add();
    if (firing.id !== 0) this.firings.set(firing.id, firing);
    this.state.firing(firing, false);
    this.log.write(LOG_LEVEL.detail, "info", {
      event: "condition", entity: entityPath(firing.entity), condition: `${entityPath(firing.owner)}/${firing.condition.name}`,
    }, `condition fired on ${describeEvent(firing.event)}`);
    this.queues.push(firing.entity, firing.owner, firing.condition, () => this.runner.run(firing).finally(() => {
      this.firings.delete(firing.id);
      this.state.firing(firing, true);
      episode?.done();
    }));
  }

  // Takeover: an unfinished death and its firings under way (in firing order) continue here.
  resumeEpisode(entity: Entity, restarted: boolean): void {
    const episode = new Episode(() => this.finishDeath(entity, episode), restarted);
    this.episodes.set(entity, episode);
    this.resumed.push(episode);
  }

  // The episodes taken over from the state, until endResumedEpisodes.
  private resumed: Episode[] = [];

  resumeFiring(firing: Firing): void {
    this.enqueue(firing, firing.episode ? this.episodes.get(firing.entity) ?? null : null);
  }

  // Takeover: every resumed firing is queued; an episode with none left ends now.
  // Only those: a death found at the takeover itself has an episode of its own, already
  // counted down (ending it again would prune or remove the entity before it was restarted).
  endResumedEpisodes(): void {
    for (const episode of this.resumed.splice(0)) episode.done();
  }

  episodeOf(entity: Entity): { restarted: boolean } | null {
    const episode = this.episodes.get(entity);
    return episode === undefined ? null : { restarted: episode.restarted };
  }

  // Takeover: a live process of the dead HAM is polled from now on (not our child);
  // heartbeat deadlines restart with one period of grace.
  adopt(entity: Entity): void {
    const pid = entity.pid;
    entity.ownChild = false;
    this.poller.watch(pid, entity.startTime, () => this.onDeath(entity, pid, null, "exit status unknown (adopted after a takeover)"));
    if (entity.heartbeat !== null && entity.heartbeat.state !== "MISSEDHIGH") {
      entity.heartbeat.beatInPeriod = false;
      this.heartbeats.arm(entity, entity.heartbeat.periodNs / 1e6);
    }
  }

  // A self-attached entity's process said hello again after a takeover: its connection
  // tells of its death from now on, and its heartbeat deadlines get one period of grace.
  rebound(entity: Entity): void {
    if (!entity.ownChild && entity.pid > 0) this.poller.unwatch(entity.pid);
  }

  // Whether a death of `entity` is still being handled (its restart may be pending).
  isRecovering(entity: Entity): boolean {
    return this.episodes.has(entity);
  }

  // Spawns an entity's process from its command line and watches it.
  spawn(entity: Entity, line: string): void {
    let pid = 0;
    // The token is in the shared state before the process exists: a HAM that takes over
    // finds the process by it even if this one dies before noting its pid.
    entity.spawnToken = this.state.nextSpawnToken(entity);
    this.state.changed(entity);
    this.state.flush();
    const env = { ...this.childEnv(entity), ...spawnEnv(entity.spawnToken) };
    const spawned = spawnLine(line, env, (exit) => this.onDeath(entity, pid, exit));
    pid = spawned.pid;
    entity.startTime = spawned.startTime;
    entity.ownChild = true;
    entity.startedMs = Date.now();
    this.tree.setPid(entity, pid);
    this.state.changed(entity);
  }

  // Watches a process the HAM did not spawn, by polling.
  watchPid(entity: Entity, pid: number, startTime: number | null): void {
    entity.startTime = startTime;
    entity.ownChild = false;
    this.tree.setPid(entity, pid);
    this.poller.watch(pid, startTime, () => this.onDeath(entity, pid, null));
  }

  unwatch(entity: Entity): void {
    if (!entity.ownChild && entity.pid > 0) this.poller.unwatch(entity.pid);
    this.heartbeats.stop(entity);
  }

  // A self-attached entity's connection closed without ham_detach_self.
  connectionLost(entity: Entity, pid: number): void {
    if (!this.tree.contains(entity) || entity.pid !== pid) return;
    if (!entity.ownChild) {
      this.onDeath(entity, pid, null, "connection closed without ham_detach_self");
      return;
    }
    // Our own child: its exit event carries the real status; wait a little for it.
    setTimeout(() => this.onDeath(entity, pid, null, "connection closed, process still running"), this.options.selfCloseGraceMs).unref();
  }

  onDeath(entity: Entity, pid: number, exit: ExitInfo | null, unknownReason = "exit status unknown (not the HAM's child)"): void {
    if (this.stopped || !this.tree.contains(entity) || entity.pid !== pid || pid === 0) return;
    this.unwatch(entity);
    this.tree.setPid(entity, 0);
    entity.spawnToken = null;
    this.state.changed(entity);
    const now = Date.now();
    const abnormal = exit?.abnormal ?? false;
    entity.lastDeathMs = now;
    entity.deaths += 1;
    if (abnormal) entity.abnormalDeaths += 1;
    entity.lastExit = exit?.description ?? unknownReason;
    this.log.write(LOG_LEVEL.events, "warn", { event: "death", entity: entity.name, pid, abnormal }, `${entity.name} (pid ${pid}) died: ${entity.lastExit}`);
    const episode = new Episode(() => this.finishDeath(entity, episode));
    this.episodes.set(entity, episode);
    this.fire(entity, { kind: "death", abnormal }, episode);
    episode.done();
  }

  private finishDeath(entity: Entity, episode: Episode): void {
    if (this.episodes.get(entity) === episode) this.episodes.delete(entity);
    if (!this.tree.contains(entity)) return;
    this.state.changed(entity);
    if (episode.restarted) {
      const pruned = pruneAfterRestart(entity);
      for (const condition of entity.conditions.values()) this.state.conditionChanged(entity, condition);
      if (pruned.conditions + pruned.actions > 0) {
        this.log.write(LOG_LEVEL.detail, "info", { event: "prune", entity: entity.name, ...pruned }, "pruned items not re-armed after restart");
      }
      return;
    }
    if (entity.pid !== 0 || !entity.enabled || entity.gaveUp || (entity.flags & HENTITYKEEPONDEATH) !== 0) return;
    this.tree.remove(entity);
    this.log.write(LOG_LEVEL.events, "info", { event: "removed", entity: entity.name }, `${entity.name} removed: died and was not restarted`);
  }

  private execute(entity: Entity, line: string): boolean {
    try {
      spawnLine(line, this.childEnv(entity), () => undefined);
      return true;
    } catch (error) {
      this.log.write(LOG_LEVEL.events, "warn", { event: "execute-failed", entity: entity.name }, String(error));
      return false;
    }
  }

  private healthy(entity: Entity): void {
    if (entity.heartbeat === null) return;
    markHealthy(entity.heartbeat);
    this.state.changed(entity);
    if (entity.pid > 0 && this.tree.contains(entity)) this.heartbeats.arm(entity);
  }

  private onMissedHeartbeat(entity: Entity, kind: "missed-low" | "missed-high", lateMs: number): void {
    if (kind === "missed-low") entity.missedLow += 1;
    else entity.missedHigh += 1;
    this.state.changed(entity);
    const late = Math.round(lateMs * 100) / 100;
    this.log.write(LOG_LEVEL.events, "warn", { event: kind, entity: entity.name, pid: entity.pid, lateMs: late },
      `${entity.name} missed heartbeats (${kind}), noticed ${late} ms after the deadline`);
    this.fire(entity, { kind });
  }

  // Runs a condition's action once, now (HACTIONDONOW).
  runNow(entity: Entity, condition: Condition, actionName: string): void {
    const action = condition.actions.get(actionName);
    if (action === undefined) return;
    const firing = { id: 0, entity, owner: entity, condition, actions: [action], event: { kind: "attach" } as const, episode: false, next: 0, waitUntil: null, launched: null };
    void this.runner.runAction(firing, action);
  }

  childEnv(entity: Entity): NodeJS.ProcessEnv {
    return { ...process.env, HAM_RUN_DIR: this.options.runDir, HAM_ENTITY: entity.name };
  }

  stop(): void {
    this.stopped = true;
    this.poller.stop();
    this.heartbeats.stopAll();
  }
}
