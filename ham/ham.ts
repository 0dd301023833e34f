import { HamError } from "../lib/errors.js";
import type { TreeView } from "../lib/tree/render.js";
import type { Entity } from "../lib/tree/types.js";
import type { DecodedFrame } from "../lib/wire/frame.js";
import { SERVER_MAX_FRAME_BYTES } from "../lib/wire/protocol.js";
import { createActivityLog, LOG_LEVEL, type ActivityLog, type TimestampMode } from "./activity-log.js";
import { ChangeAnnouncer, Channels, type ClientState } from "./clients.js";
import { ConfigSources } from "./config-apply.js";
import type { RecoveryContext } from "./context.js";
import { DEFAULTS } from "./defaults.js";
import { acquireInstance, prepareRunDir, releaseInstance } from "./instance-lock.js";
import { Monitor } from "./monitor.js";
import { sendSignal, terminate } from "./processes.js";
import { answerFrame } from "./frames.js";
import { serveSocket, type RunningServer, type ServerConnection } from "../lib/wire/server.js";
import { waitFor } from "./waitfor.js";
import { HamTree } from "./tree.js";
import { GuardianLink } from "./guardian-link.js";
import {
  conditionKey, conditionValue, entityFromValue, entityKey, entityValue, firingValue, Journal,
  type EntityValue, type JournalSource, type MetaValue,
} from "./persist.js";
import { StateStore, StoreReader, stateDirOf } from "./store.js";
import { recoverState } from "./takeover.js";
import { STATE_VERSION } from "./state-version.js";
import { startMount, stopMount } from "./mount.js";
import type { HamOptions, StartMode } from "./ham-options.js";

// The one entry of ham/ the Guardian uses.
export type { HamOptions, StartMode } from "./ham-options.js";
export { createActivityLog, LOG_LEVEL } from "./activity-log.js";
export { StoreReader } from "./store.js";

const COMPACT_AT_BYTES = 8 * 1024 * 1024;
const GUARDIAN_READY_MS = 10_000;

// The HAM: owns the tree, serves the socket, turns requests and process events into changes.
export class Ham implements RecoveryContext, JournalSource {
  readonly tree = new HamTree(() => Date.now());
  readonly store: StateStore;
  readonly journal: Journal;
  readonly guardian: GuardianLink;
  // HAM-wide facts kept in the shared state.
  meta = { hamFailures: 0, guardianFailures: 0, nextFiringId: 1, spawnCount: 0 };
  readonly log: ActivityLog;
  readonly monitor: Monitor;
  readonly channels = new Channels();
  private readonly clients = new Map<ServerConnection, ClientState>();
  readonly config: ConfigSources;
  private server: RunningServer | null = null;
  private files: { pidFile: string; socketPath: string } | null = null;
  private stopping = false;
  private readonly announcer = new ChangeAnnouncer(() => this.clients.values());
  readonly stopped: Promise<void>;
  private resolveStopped: () => void = () => undefined;

  constructor(readonly options: HamOptions) {
    this.log = createActivityLog({ file: options.logFile, timestamps: options.timestamps, verbosity: options.verbosity });
    this.store = new StateStore(stateDirOf(options.runDir));
    this.journal = new Journal(this.store, this, COMPACT_AT_BYTES, (stats) => {
      this.log.write(LOG_LEVEL.detail, "info", { event: "compaction", ...stats },
        `state compacted: ${stats.keys} keys, ${stats.bytes} bytes in ${Math.round(stats.wallMs)} ms (longest step ${stats.longestStepMs.toFixed(1)} ms)`);
    }, (keys) => this.announcer.changed(keys));
    this.tree.onChange = (entity, removed) => (removed ? this.journal.removed(entity) : this.journal.entity(entity));
    this.monitor = new Monitor(this.tree, this.log, {
      waitFor,
      pulse: (pid, chid, code, value) => this.channels.pulse(pid, chid, code, value),
      signal: (pid, signal) => sendSignal(pid, signal),
    }, { runDir: options.runDir, pidPollMs: DEFAULTS.pidPollMs, selfCloseGraceMs: DEFAULTS.selfCloseGraceMs }, {
      changed: (entity) => {
        if (this.tree.contains(entity)) this.journal.entity(entity);
      },
      conditionChanged: (owner, condition) => {
        if (this.tree.contains(owner)) this.journal.condition(owner, condition);
      },
      firing: (firing, done) => this.journal.firing(firing, done),
      flush: () => this.journal.flush(),
      // Neither needs writing at once: a HAM that takes over starts above every firing id in
      // the state, and a token carries the pid of the HAM that made it.
      nextFiringId: () => this.meta.nextFiringId++,
      nextSpawnToken: (entity) => `${process.pid}.${++this.meta.spawnCount}.${entity.name}`,
    });
    this.guardian = new GuardianLink(options, this.log, () => {
      this.meta.guardianFailures += 1;
      this.journal.metaChanged();
    });
    this.config = new ConfigSources(this);
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  async start(mode: StartMode = { takeover: false, reader: null }): Promise<void> {
    prepareRunDir(this.options.runDir, this.options.gid);
    // The Guardian and every process the HAM starts carry it (tests find them by it).
    process.env["HAM_RUN_DIR"] = this.options.runDir;
    this.files = await acquireInstance(this.options.runDir, mode.takeover);
    const reader = mode.reader ?? new StoreReader(this.store.dir);
    if (this.options.fresh && !mode.takeover) this.store.remove();
    const recovered = reader.exists();
    this.store.open(recovered ? reader : null);
    if (recovered) {
      const summary = recoverState(this, reader.refresh(), mode.takeover);
      this.log.write(LOG_LEVEL.events, "info", { event: mode.takeover ? "takeover" : "recovered", ...summary, torn: reader.torn },
        mode.takeover ? `took over from the dead HAM: ${summary.entities} entities, ${summary.adopted} processes adopted, ${summary.died} died meanwhile`
          : `recovered the state of a HAM that is gone: ${summary.entities} entities, ${summary.adopted} processes adopted, ${summary.died} died meanwhile`);
    }
    this.journal.metaChanged();
    this.journal.entity(this.tree.global);
    this.journal.flush();
    this.server = await serveSocket(this.files.socketPath, {
      maxConnections: DEFAULTS.maxConnections,
      maxFrameBytes: SERVER_MAX_FRAME_BYTES,
      maxBufferedBytes: DEFAULTS.maxBufferedReplyBytes,
      gid: this.options.gid,
    }, {
      onOpen: (connection) => {
        this.clients.set(connection, { connection, pid: 0, token: null, selfEntities: new Set(), channels: new Set() });
      },
      onFrame: (connection, frame) => this.onFrame(connection, frame),
      onClose: (connection) => this.onClose(connection),
    });
    if (!mode.takeover) this.log.write(LOG_LEVEL.events, "info", { event: "start", pid: process.pid, runDir: this.options.runDir }, "HAM started");
    this.guardian.start();
    if (this.options.mount !== null) startMount(this, this.options.mount);
    if (this.options.configFile !== null) this.config.load(this.options.configFile, true);
    // Started (or taken over) means protected: a Guardian stands ready behind this HAM.
    const since = performance.now();
    const ready = await this.guardian.ready(GUARDIAN_READY_MS);
    this.log.write(LOG_LEVEL.events, ready ? "info" : "error", { event: "protected", ready, ms: Math.round(performance.now() - since) },
      ready ? `Guardian ready (pid ${this.guardian.pid})` : `no Guardian became ready within ${GUARDIAN_READY_MS} ms; running unprotected until one does`);
  }

  // JournalSource: what the shared state holds.
  entityValue(entity: Entity): EntityValue {
    return entityValue(entity, this.monitor.episodeOf(entity));
  }

  metaValue(): MetaValue {
    return {
      version: STATE_VERSION, ...this.meta, verbosity: this.log.verbosity, nextChid: this.channels.nextId, channels: this.channels.list(),
      config: this.config.state(),
    };
  }

  // After a change too wide to follow piece by piece (a config file applied).
  changedAll(): void {
    for (const entity of [this.tree.global, ...this.tree.entities.values()]) {
      this.journal.entity(entity);
      this.journal.allConditions(entity);
    }
    this.journal.metaChanged();
  }

  keys(): string[] {
    const conditionKeys: string[] = [];
    for (const owner of [this.tree.global, ...this.tree.entities.values()]) {
      for (const condition of owner.conditions.values()) conditionKeys.push(conditionKey(owner, condition));
    }
    return ["m", "g", ...[...this.tree.entities.values()].map(entityKey), ...conditionKeys, ...[...this.monitor.firings.keys()].map((id) => `f/${id}`),
      ...this.journal.replyKeys()];
  }

  valueOf(key: string): unknown {
    if (key === "m") return this.metaValue();
    if (key === "g") return this.entityValue(this.tree.global);
    if (key.startsWith("e/")) {
      const entity = this.tree.entities.get(key.slice(2));
      return entity === undefined ? undefined : this.entityValue(entity);
    }
    if (key.startsWith("c/")) {
      const [, ename = "", cname = ""] = key.split("/");
      const owner = ename === "" ? this.tree.global : this.tree.entities.get(ename);
      const condition = owner?.conditions.get(cname);
      return condition === undefined ? undefined : conditionValue(condition, this.journal.orderOf(condition));
    }
    if (key.startsWith("f/")) {
      const firing = this.monitor.firings.get(Number(key.slice(2)));
      return firing === undefined ? undefined : firingValue(firing);
    }
    const [, token = "", id = ""] = key.split("/");
    return this.journal.sentReply(token, Number(id));
  }

  restoreEntity(value: EntityValue): Entity {
    const entity = entityFromValue(value);
    if (entity.kind === "global") {
      this.tree.global.enabled = entity.enabled;
      return this.tree.global;
    }
    this.tree.entities.set(entity.name, entity);
    this.tree.setPid(entity, entity.pid);
    return entity;
  }

  private onFrame(connection: ServerConnection, frame: DecodedFrame): void {
    const client = this.clients.get(connection);
    if (client !== undefined) answerFrame(this, client, frame);
  }

  private onClose(connection: ServerConnection): void {
    const client = this.clients.get(connection);
    if (client === undefined) return;
    this.clients.delete(connection);
    // Only what the client held is written: a client that connects, asks and leaves (hamctl,
    // a probe) costs the shared state nothing (it cost a HAM-wide record each time).
    if (client.channels.size > 0) {
      this.channels.closeAll(client);
      this.journal.metaChanged();
    }
    if (client.token !== null) this.journal.forgetClient(client.token);
    for (const entity of client.selfEntities) this.monitor.connectionLost(entity, client.pid);
  }

  // A client said hello (again, after a takeover): it gets back its self-attached entities
  // and its pulse channels.
  rebind(client: ClientState): void {
    for (const entity of this.tree.entities.values()) {
      if (entity.kind !== "self" || entity.pid !== client.pid || (entity.clientToken !== null && entity.clientToken !== client.token)) continue;
      if ([...this.clients.values()].some((other) => other !== client && other.selfEntities.has(entity))) continue;
      client.selfEntities.add(entity);
      this.monitor.rebound(entity);
    }
    this.channels.rebind(client);
  }

  *clientsOf(entity: Entity): Iterable<ClientState> {
    for (const client of this.clients.values()) if (client.selfEntities.has(entity)) yield client;
  }

  heartbeat(client: ClientState): number {
    const now = Date.now();
    for (const entity of client.selfEntities) {
      if (entity.heartbeat === null || entity.pid !== client.pid) continue;
      entity.heartbeat.beatInPeriod = true;
      entity.heartbeat.lastBeatMs = now;
    }
    return 0;
  }

  view(): TreeView {
    return this.tree.view(this.info(), this.log.verbosity);
  }

  private info(): { hamPid: number; guardianPid: number; hamFailures: number; guardianFailures: number } {
    return { hamPid: process.pid, guardianPid: this.guardian.pid, hamFailures: this.meta.hamFailures, guardianFailures: this.meta.guardianFailures };
  }

  status(): Record<string, unknown> {
    const counts = this.tree.counts();
    const memory = process.memoryUsage();
    return {
      ...this.info(), ...counts,
      verbosity: this.log.verbosity, runDir: this.options.runDir, mount: this.options.mount, clients: this.clients.size,
      logWriteFailures: this.log.writeFailures,
      rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externalBytes: memory.external,
    };
  }

  async restartEntity(name: string): Promise<number> {
    const entity = this.tree.entity(name);
    if (entity.pid <= 0) throw new HamError("ESRCH", `${name} has no running process`);
    await terminate(entity.pid, entity.startTime, DEFAULTS.killGraceMs);
    return 0;
  }

  applyConfig(text: string, source: string): Record<string, unknown> {
    return this.config.apply(text, source);
  }

  // ham_stop removes the state (QNX: the only proper way to stop); a signal keeps it, so
  // the next `ham` on this run directory adopts the processes.
  async stop(reason: string, removeState: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.write(LOG_LEVEL.events, "info", { event: "stop", reason, stateKept: !removeState },
      `HAM stopping; monitored processes keep running${removeState ? "" : "; state kept for the next ham"}`);
    await this.guardian.stop();
    this.config.close();
    this.monitor.stop();
    stopMount(this);
    for (const client of this.clients.values()) client.connection.close("HAM stopping");
    this.server?.close();
    this.journal.flush();
    if (removeState) this.store.remove();
    else this.store.close();
    if (this.files !== null) releaseInstance(this.files);
    this.log.flush();
    this.resolveStopped();
  }
}
