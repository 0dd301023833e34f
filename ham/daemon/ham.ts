import { readFileSync } from "node:fs";
import type { DecodedFrame } from "../../lib/wire/frame.js";
import { SERVER_MAX_FRAME_BYTES } from "../../lib/wire/protocol.js";
import { serveSocket, type RunningServer, type ServerConnection } from "../../lib/wire/server.js";
import { createActivityLog, LOG_LEVEL, type ActivityLog } from "../adapters/activity-log.js";
import { ChangeAnnouncer, Channels, pidStartOf, type ClientState } from "../server/clients.js";
import { REAL_CLOCK, RealTimers, type Clock } from "../adapters/clock.js";
import { ConfigSources } from "../server/config-apply.js";
import type { ServerContext } from "../server/context.js";
import type { At, CoreEvent, ReplyTo } from "../core/events.js";
import { initialState } from "../core/state.js";
import { recordOf, stateKeys } from "./records.js";
import { metaValue } from "./state-version.js";
import { HamFacts } from "../server/status.js";
import { clusterView, nodeRowsOf } from "../server/nodes.js";
import type { HamState } from "../core/state.js";
import { entityKey, META_KEY } from "../core/tx.js";
import { DEFAULTS } from "./defaults.js";
import { failPoint } from "../adapters/fail-point.js";
import { answerFrame } from "../server/frames.js";
import { GuardianLink } from "../adapters/guardian-link.js";
import { SystemdNotifier } from "../adapters/systemd-notify.js";
import { ProberLink } from "../adapters/prober-link.js";
import { probeRows } from "../server/probe-rows.js";
import { joinCluster, loadClusterCode } from "./cluster-join.js";
import { checkStateCluster } from "./cluster-check.js";
import { activityLogOptions, type HamOptions, type StartMode } from "./ham-options.js";
import { acquireInstance, prepareRunDir, releaseInstance } from "../adapters/instance-lock.js";
import { Interpreter, type Reply } from "./interpreter.js";
import { startMount, stopMount } from "./mount.js";
import { Journal } from "./persist.js";
import { PidPoller } from "../adapters/pid-poller.js";
import { killNow, sendSignal, spawnLine, terminate } from "../adapters/processes.js";
import { StateStore, StoreReader, stateDirOf } from "../adapters/store.js";
import { readBack } from "./takeover.js";
import type { TreeView } from "../server/render.js";
import { waitFor } from "../adapters/waitfor.js";
import { closeOutput, openOutput, OutputRotator } from "../adapters/output.js";
import type { Membership } from "../cluster/membership.js";
import type { RemoteCall, RemoteCalls } from "../cluster/remote-calls.js";
import { RemoteCallers } from "../server/remote.js";
import { ClusterRoles } from "./cluster-roles.js";
import { nodesUp } from "../core/nodes/node-facts.js";
import { MetricsService } from "./metrics-service.js";
import { hamdVersion } from "./cluster-join.js";

// The one entry of ham/ the Guardian uses.
export type { HamOptions, StartMode } from "./ham-options.js";
export { createActivityLog, LOG_LEVEL } from "../adapters/activity-log.js";
export { StoreReader } from "../adapters/store.js";
export { preloadCluster } from "./cluster-join.js";
export { preloadMetrics } from "./metrics-service.js";
export { activityLogOptions } from "./ham-options.js";
export { exitProcess, stopOnSignals } from "./process-end.js";

const COMPACT_AT_BYTES = 8 * 1024 * 1024;
const GUARDIAN_READY_MS = 10_000;
const UNCLAIMED_REPLIES_MS = 60_000;

// The daemon's wiring: the core's state machine (core/) run by the interpreter through the
// adapters, the socket server, the shared state, the Guardian, the config file and the view.
export class Ham implements ServerContext {
  readonly store: StateStore;
  readonly journal: Journal;
  readonly guardian: GuardianLink;
  // systemd's unit, when it is of Type=notify (adapters/systemd-notify.ts).
  readonly systemd: SystemdNotifier;
  // The health probes' process (prober/), forked at the first probe.
  readonly prober: ProberLink;
  readonly log: ActivityLog;
  readonly core: Interpreter;
  readonly channels = new Channels();
  readonly config: ConfigSources;
  readonly clock: Clock = REAL_CLOCK;
  private readonly poller = new PidPoller(DEFAULTS.pidPollMs);
  // Keeps every entity's output files under their limits (adapters/output.ts).
  private readonly rotator: OutputRotator;
  private readonly clients = new Map<ServerConnection, ClientState>();
  // The client each request in flight came from (an attach_self binds the entity to it).
  private readonly requestClients = new Map<number, ClientState>();
  private server: RunningServer | null = null;
  private files: { pidFile: string; socketPath: string } | null = null;
  private stopping = false;
  private readonly announcer = new ChangeAnnouncer(() => this.clients.values());
  private readonly facts = new HamFacts();
  readonly stopped: Promise<void>;
  private resolveStopped: () => void = () => undefined;
  // In a cluster: this node's lease and node key, and the other nodes (cluster/membership.ts).
  membership: Membership | null = null;
  // The lease a HAM before this one held, read back from the shared state (a takeover keeps it).
  private keptLease: string | null = null;
  // Calls to and from the other nodes' HAMs; the callers from other nodes (server/remote.ts).
  remote: RemoteCalls | null = null;
  // --metrics: the Prometheus endpoint (metrics-service.ts); null without it.
  private readonly metrics: MetricsService | null;
  private readonly remoteCallers = new RemoteCallers((token) => this.journal.forgetClient(token));
  // Other nodes' calls wait until this HAM serves (a takeover lists them before that).
  private markServing: () => void = () => undefined;
  private readonly serving = new Promise<void>((resolve) => {
    this.markServing = resolve;
  });
  // Cluster groups: their elections and leased roles (cluster-roles.ts).
  readonly clusterRoles = new ClusterRoles({
    state: () => this.core.state, dispatch: (event) => this.core.dispatch(event), at: () => this.core.at(), log: () => this.log,
    send: (token, message) => this.sessionOf(token)?.connection.send(message) ?? false,
  }, () => this.membership);

  constructor(readonly options: HamOptions) {
    this.log = createActivityLog(activityLogOptions(options));
    this.store = new StateStore(stateDirOf(options.runDir));
    this.journal = new Journal(this.store, { valueOf: (key) => this.valueOf(key), keys: () => this.keys() }, COMPACT_AT_BYTES, (stats) => {
      this.log.write(LOG_LEVEL.detail, "info", { event: "compaction", ...stats },
        `state compacted: ${stats.keys} keys, ${stats.bytes} bytes in ${Math.round(stats.wallMs)} ms (longest step ${stats.longestStepMs.toFixed(1)} ms)`);
    }, (keys) => this.announcer.changed(keys));
    const timers = new RealTimers(this.clock, (id) => this.core.timerFired(id));
    this.prober = new ProberLink(this.log, (results) => {
      this.core.dispatch({ kind: "probe-results", at: this.core.at(), results });
      // A probe's counts are not journaled (not kept): the view is told they changed.
      this.announcer.changed(results.map((result) => entityKey(result.entity)));
    });
    this.core = new Interpreter(initialState(process.pid, options.verbosity, this.clock.wall()), this.clock, timers, {
      spawn: (entity, line, env, onExit, notify) => {
        const output = openOutput(options.runDir, entity);
        this.rotator.watch(entity);
        try {
          return spawnLine(line, env, onExit, output, notify);
        } finally {
          closeOutput(output);
        }
      },
      childEnv: (entity) => ({ ...process.env, HAM_RUN_DIR: options.runDir, HAM_ENTITY: entity }),
      signal: sendSignal,
      pulse: (pid, chid, code, value) => this.channels.pulse(pid, chid, code, value, this.clock.wall()),
      waitFor,
      watchPid: (pid, startTime, onDeath) => this.poller.watch(pid, startTime, onDeath),
      unwatchPid: (pid) => this.poller.unwatch(pid),
      terminate: (pid, startTime) => void terminate(pid, startTime, DEFAULTS.killGraceMs),
      fence: killNow,
      assign: (token, message, leased) => this.sessionOf(token)?.connection.send({ ev: "role", ...message, ...(leased ? { until: this.clusterRoles.untilNow() } : {}) }) ?? false,
      campaign: (group, member) => this.clusterRoles.election?.campaign(group, member),
      resign: (group, token, yielded) => this.clusterRoles.election?.resign(group, token, yielded),
      preflight: () => this.clusterRoles.preflight(),
      probeStart: (entity, pid, probes) => this.prober.start(entity, pid, probes),
      probeStop: (entity) => this.prober.stopEntity(entity),
      recordReply: (to, payload) => this.journal.reply(to.token, to.id, payload),
      answerLater: (to, payload) => void this.sessionOf(to.token)?.connection.send({ i: to.id, ...payload }),
      log: (verbosity, level, fields, message) => this.log.write(verbosity, level, fields, message),
      setVerbosity: (value) => {
        this.log.verbosity = value;
      },
      changed: (keys) => this.journal.changed(keys),
      persistNow: () => this.journal.flush(),
      bindSelf: (ref, entity) => this.requestClients.get(ref)?.selfEntities.add(entity),
      unbindSelf: (entity) => {
        for (const client of this.clients.values()) client.selfEntities.delete(entity);
      },
      failPoint,
    });
    this.systemd = new SystemdNotifier(options.systemd ?? null, () => this.log);
    this.guardian = new GuardianLink(options, this.log, () => this.core.dispatch({ kind: "guardian-failed", at: this.core.at() }));
    this.config = new ConfigSources(this);
    this.rotator = new OutputRotator(options.runDir, (name) => this.core.state.entities.get(name)?.spec.policy.output,
      (error) => this.log.write(LOG_LEVEL.events, "warn", { event: "output-rotation" }, `output rotation: ${String(error)}`));
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    this.metrics = options.metrics === null ? null : new MetricsService(options.metrics, {
      state: () => this.core.state, wallMs: () => this.clock.wall(), guardianPid: () => this.guardian.pid, clients: () => this.clients.size,
      logWriteFailures: () => this.log.writeFailures, version: hamdVersion(),
    }, () => this.log);
  }

  get state(): HamState {
    return this.core.state;
  }

  async start(mode: StartMode = { takeover: false, reader: null }): Promise<void> {
    prepareRunDir(this.options.runDir, this.options.gid);
    // The Guardian and every process the HAM starts carry it (tests find them by it).
    process.env["HAM_RUN_DIR"] = this.options.runDir;
    this.files = await acquireInstance(this.options.runDir, mode.takeover);
    // A port that cannot be bound is `ham`'s one-line error, before anything else is started.
    if (!mode.takeover) {
      await this.metrics?.start().catch((error: unknown) => {
        if (this.files !== null) releaseInstance(this.files);
        this.files = null;
        throw error;
      });
    }
    const reader = mode.reader ?? new StoreReader(this.store.dir);
    if (this.options.fresh && !mode.takeover) this.store.remove();
    const recovered = reader.exists();
    // A state another cluster or node made is refused before anything is read into this HAM.
    try {
      if (recovered) checkStateCluster(reader, this.options);
    } catch (error) {
      releaseInstance(this.files);
      throw error;
    }
    this.store.open(recovered ? reader : null);
    if (recovered) this.recover(reader, mode.takeover);
    this.journal.changed([META_KEY, "g"]);
    this.journal.flush();
    if (this.options.cluster !== null && !mode.takeover) {
      try {
        await this.joinCluster();
      } catch (error) {
        // Refused (the node name is held) or no etcd: nothing of this HAM stays behind, no
        // Guardian was started, and a state it did not recover is not kept.
        this.remote?.stop();
        this.membership?.stop();
        this.metrics?.stop();
        this.core.stop();
        this.prober.stop();
        this.poller.stop();
        if (recovered) this.store.close();
        else this.store.remove();
        releaseInstance(this.files);
        this.files = null;
        throw error;
      }
    }
    // A takeover by a Guardian too young to have loaded the cluster's code loads it now, before
    // it serves and forks its own Guardian: the import holds the event loop (170–220 ms of CPU
    // here, over a second in the cluster lab), and held after serving it made heartbeats that
    // were queued unread look missed (their grace counts from serving) and the new Guardian's
    // watchdog judge this HAM hung. A Guardian that loaded it already passes at once.
    if (this.options.cluster !== null && mode.takeover) await loadClusterCode().catch(() => undefined);
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
    if (recovered) this.core.dispatch({ kind: "serving", at: this.core.at() });
    this.markServing();
    this.guardian.serving();
    // A Guardian that took over is the unit's main process now: `systemctl stop` must reach it.
    // Sent once it serves (the takeover's restarts were started before).
    if (mode.takeover) this.systemd.send([`MAINPID=${process.pid}`, "STATUS=took over from a HAM that died; a new Guardian is starting"]);
    this.systemd.startWatchdog();
    if (!mode.takeover) this.log.write(LOG_LEVEL.events, "info", { event: "start", pid: process.pid, runDir: this.options.runDir }, "HAM started");
    // Forked once this HAM serves. Forking it before a takeover's recovery (so that it loads
    // meanwhile) was tried on 2026-12-03 and undone: the fault lab then killed that HAM before it
    // had journaled its own takeover, and `Ham Failures` counted one death short.
    this.guardian.start();
    // A takeover joins the cluster in the background, once it serves and its Guardian is forked:
    // making the etcd client (gRPC channels, ~80 ms of CPU here) before the socket listened held
    // every client up that long (kill → answered: p50 140 ms clustered, 60 ms not).
    if (this.options.cluster !== null && mode.takeover) this.rejoin();
    if (mode.takeover) this.metrics?.resume();
    // Processes a HAM that stopped or died started write on: their files are looked at too.
    for (const entity of this.core.state.entities.values()) if (entity.spec.command !== null) this.rotator.watch(entity.name);
    if (this.options.mount !== null) startMount(this, this.options.mount);
    if (this.options.configFile !== null) {
      try {
        this.config.load(this.options.configFile, true, mode.takeover);
      } catch (error) {
        // A HAM that starts on a bad file does not start: its Guardian goes with it (or it would
        // take over and read the same file), and a state it did not recover is not kept.
        await this.stop("config rejected", !recovered);
        throw error;
      }
    }
    // Started (or taken over) means protected: a Guardian stands ready behind this HAM.
    const since = performance.now();
    const ready = await this.guardian.ready(GUARDIAN_READY_MS);
    this.log.write(LOG_LEVEL.events, ready ? "info" : "error", { event: "protected", ready, ms: Math.round(performance.now() - since) },
      ready ? `Guardian ready (pid ${this.guardian.pid})` : `no Guardian became ready within ${GUARDIAN_READY_MS} ms; running unprotected until one does`);
    // The unit is up once its HAM answers and is protected (or gave up waiting for a Guardian),
    // said once, by the first HAM; MAINPID= for a HAM that `ham` forked (the daemon).
    if (!mode.takeover) {
      this.systemd.send(["READY=1", `MAINPID=${process.pid}`,
        ready ? `STATUS=protected (Guardian pid ${this.guardian.pid})` : "STATUS=running unprotected: no Guardian became ready"]);
    }
  }

  // Joins the cluster (cluster-join.ts); etcd3 is loaded only then. Node facts go to the core.
  private async joinCluster(): Promise<void> {
    const joined = await joinCluster(this.options.cluster, this.keptLease, this.log, this.clock, (membership) => {
      this.membership = membership;
      this.journal.changed([META_KEY]);
      this.journal.flush();
    }, (origin, call) => this.serveRemote(origin, call), {
      leaseState: (state) => this.clusterRoles.leaseState(state), renewed: (deadline) => this.clusterRoles.renewed(deadline),
      nodeUp: (node, pid) => this.clusterRoles.nodeUp(node, pid), nodeDown: (node) => this.clusterRoles.nodeDown(node),
      knownUp: () => nodesUp(this.core.state.meta),
    });
    this.membership = joined?.membership ?? null;
    this.remote = joined?.remote ?? null;
    await this.clusterRoles.start();
  }

  // A HAM that takes over joins in the background, again every second until it has: an etcd
  // without a quorum must not cost the node its HAM (its local entities and groups go on). Until
  // it has joined it holds no cluster group (meta.leaseOk is unset: nothing is made active, and
  // its members' leased roles lapse on their own) and `hamctl nodes` answers that it is not in a
  // cluster yet.
  private rejoin(): void {
    if (this.stopping) return;
    this.joinCluster().catch((error: unknown) => {
      this.clusterRoles.stop();
      for (const part of [this.remote, this.membership]) {
        try {
          part?.stop();
        } catch {
          // stopped already by the failed join
        }
      }
      this.remote = null;
      this.membership = null;
      this.log.write(LOG_LEVEL.events, "warn", { event: "rejoin-failed", error: String(error) },
        `rejoining the cluster failed: ${String(error).split("\n")[0]}; again in 1 s`);
      if (!this.stopping) setTimeout(() => this.rejoin(), 1_000).unref();
    });
  }

  // Another node's call, run as a request of a remote caller once this HAM serves.
  private async serveRemote(origin: string, call: RemoteCall): ReturnType<RemoteCallers["serve"]> {
    await this.serving;
    return this.remoteCallers.serve(origin, call, this.clock.wall(), (client, id) =>
      answerFrame(this, client, { kind: "message", value: { i: id, op: call.op, a: call.a } }));
  }

  // The state of a HAM that is gone: read back, checked, and carried on (core/takeover.ts).
  private recover(reader: StoreReader, takeover: boolean): void {
    const values = reader.refresh().values;
    const back = readBack(this.core.state, values, this.core.at(), takeover, reader.torn);
    const meta = values.get(META_KEY) as { leaseId?: unknown } | undefined;
    this.keptLease = typeof meta?.leaseId === "string" ? meta.leaseId : null;
    for (const key of back.skipped) {
      this.log.write(LOG_LEVEL.events, "error", { event: "state-record-skipped", key },
        `the shared state's record ${key} does not have the shape this HAM reads: skipped`);
    }
    this.core.state = back.state;
    this.log.verbosity = back.state.meta.verbosity;
    this.channels.restore(back.channels, back.nextChid);
    for (const [token, id, reply] of back.replies) this.journal.reply(token, id, reply, true);
    // Replies kept for sessions that never come back (their process died with the HAM) are
    // dropped once every live client has had ample time to say hello again.
    setTimeout(() => this.journal.forgetClientsBut(new Set([...this.clients.values()].map((client) => client.token))), UNCLAIMED_REPLIES_MS).unref();
    this.core.dispatch(back.event);
  }

  // ---- the shared state's records

  private valueOf(key: string): unknown {
    if (key === META_KEY) {
      const cluster = this.options.cluster === null ? null : { name: this.options.cluster.name, node: this.options.cluster.node };
      return metaValue(this.core.state.meta, this.channels, this.membership?.lease || this.keptLease || null, cluster);
    }
    if (key.startsWith("r/")) {
      const [, token = "", id = ""] = key.split("/");
      return this.journal.sentReply(token, Number(id));
    }
    return recordOf(this.core.state, key);
  }

  private keys(): string[] {
    return [...stateKeys(this.core.state), ...this.journal.replyKeys()];
  }

  // ---- requests

  // A request the core answers (ServerContext).
  coreRequest(client: ClientState, op: string, args: unknown, to: ReplyTo | null): Reply | null {
    let used = 0;
    const reply = this.core.request((ref, at) => ({
      kind: "request", at, ref, op, args, caller: { pid: client.pid, token: client.token }, pidStart: pidStartOf(client, op, args), replyTo: to,
    }), (ref) => {
      used = ref;
      this.requestClients.set(ref, client);
    }, to);
    this.requestClients.delete(used);
    return reply;
  }

  // The connected client whose session is `token`.
  private sessionOf(token: string): ClientState | undefined {
    return [...this.clients.values()].find((client) => client.token === token) ?? this.remoteCallers.clientOf(token);
  }

  applyConfig(make: (ref: number, at: At) => CoreEvent): Reply | null {
    return this.core.request(make);
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
    // a probe) costs the shared state nothing.
    if (client.channels.size > 0) {
      this.channels.closeAll(client);
      this.journal.changed([META_KEY]);
    }
    if (client.token !== null) this.journal.forgetClient(client.token);
    for (const entity of client.selfEntities) {
      this.core.dispatch({ kind: "connection-lost", at: this.core.at(), entity, pid: client.pid });
    }
  }

  // A client said hello (again, after a takeover): it gets back its self-attached entities
  // and its pulse channels.
  rebind(client: ClientState): void {
    const names: string[] = [];
    for (const entity of this.core.state.entities.values()) {
      const { spec, run } = entity;
      if (spec.kind !== "self" || run.pid !== client.pid || (run.clientToken !== null && run.clientToken !== client.token)) continue;
      if ([...this.clients.values()].some((other) => other !== client && other.selfEntities.has(entity.name))) continue;
      client.selfEntities.add(entity.name);
      names.push(entity.name);
    }
    // With a token, the core also sends again the roles this session has not acknowledged.
    if (names.length > 0 || client.token !== null) this.core.dispatch({ kind: "rebound", at: this.core.at(), entities: names, token: client.token });
    if (client.token !== null) this.clusterRoles.renewSession(client.token);
    this.channels.rebind(client, this.clock.wall());
  }

  heartbeat(client: ClientState): number {
    if (client.selfEntities.size > 0) {
      this.core.dispatch({ kind: "beat", at: this.core.at(), pid: client.pid, entities: [...client.selfEntities] });
    }
    return 0;
  }

  view(): TreeView {
    return this.facts.view(this.core.state, this.guardian.pid, this.membership === null ? null : nodeRowsOf(this.membership, this.core.state.groups.values()));
  }

  status(): Record<string, unknown> {
    return {
      ...this.facts.status(this.core.state, {
        cluster: clusterView(this.membership, this.core.state.groups.values()),
        guardianPid: this.guardian.pid, wallMs: this.clock.wall(), monoMs: this.clock.mono(), log: this.log, options: this.options, clients: this.clients.size,
      }, this.systemd.failures),
      prober: this.prober.facts(),
      probes: [...this.core.state.entities.values()].flatMap((entity) => (entity.spec.probes.length === 0 ? [] : probeRows(entity))),
    };
  }

  // ham_stop removes the state (QNX: the only proper way to stop); a signal keeps it, so
  // the next `ham` on this run directory adopts the processes.
  async stop(reason: string, removeState: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.systemd.stopWatchdog();
    this.systemd.send(["STOPPING=1", `STATUS=stopping (${reason})`]);
    this.log.write(LOG_LEVEL.events, "info", { event: "stop", reason, stateKept: !removeState },
      `HAM stopping; monitored processes keep running${removeState ? "" : "; state kept for the next ham"}`);
    this.prober.stop();
    await this.guardian.stop();
    this.remote?.stop();
    this.clusterRoles.stop();
    this.membership?.stop();
    this.config.close();
    this.metrics?.stop();
    // After this, deaths are the next HAM's business.
    this.core.stop();
    this.poller.stop();
    this.rotator.stop();
    stopMount(this);
    for (const client of this.clients.values()) client.connection.close("HAM stopping");
    this.server?.close();
    this.journal.flush();
    if (removeState) this.store.remove();
    else this.store.close();
    if (this.files !== null) releaseInstance(this.files);
    this.resolveStopped();
  }
}
