import { HamError } from "../lib/errors.js";
import type { TreeView } from "../lib/tree/render.js";
import type { Entity } from "../lib/tree/types.js";
import { parseRequest, SERVER_MAX_FRAME_BYTES } from "../lib/wire/protocol.js";
import { createActivityLog, LOG_LEVEL, type ActivityLog, type TimestampMode } from "./activity-log.js";
import { Channels, type ClientState } from "./clients.js";
import { ConfigSources } from "./config-apply.js";
import type { HamContext } from "./context.js";
import { DEFAULTS } from "./defaults.js";
import { acquireInstance, prepareRunDir, releaseInstance } from "./instance-lock.js";
import { Monitor } from "./monitor.js";
import { sendSignal, terminate } from "./processes.js";
import { dispatch } from "./requests.js";
import { serveSocket, type RunningServer, type ServerConnection } from "./server-transport.js";
import { waitFor } from "./waitfor.js";
import { HamTree } from "./tree.js";

export interface HamOptions {
  readonly runDir: string;
  readonly logFile: string | null;
  readonly timestamps: TimestampMode;
  readonly verbosity: number;
  readonly configFile: string | null;
  readonly mount: string | null;
}

// The HAM: owns the tree, serves the socket, turns requests and process events into changes.
export class Ham implements HamContext {
  readonly tree = new HamTree(() => Date.now());
  readonly log: ActivityLog;
  readonly monitor: Monitor;
  readonly channels = new Channels();
  private readonly clients = new Map<ServerConnection, ClientState>();
  private readonly config: ConfigSources;
  private server: RunningServer | null = null;
  private files: { pidFile: string; socketPath: string } | null = null;
  private stopping = false;
  readonly stopped: Promise<void>;
  private resolveStopped: () => void = () => undefined;

  constructor(readonly options: HamOptions) {
    this.log = createActivityLog({ file: options.logFile, timestamps: options.timestamps, verbosity: options.verbosity });
    this.monitor = new Monitor(this.tree, this.log, {
      waitFor,
      pulse: (pid, chid, code, value) => this.channels.pulse(pid, chid, code, value),
      signal: (pid, signal) => sendSignal(pid, signal),
    }, { runDir: options.runDir, pidPollMs: DEFAULTS.pidPollMs, selfCloseGraceMs: DEFAULTS.selfCloseGraceMs });
    this.config = new ConfigSources(this);
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  async start(): Promise<void> {
    prepareRunDir(this.options.runDir);
    this.files = await acquireInstance(this.options.runDir);
    this.server = await serveSocket(this.files.socketPath, {
      maxConnections: DEFAULTS.maxConnections,
      maxFrameBytes: SERVER_MAX_FRAME_BYTES,
      maxBufferedBytes: DEFAULTS.maxBufferedReplyBytes,
    }, {
      onOpen: (connection) => {
        this.clients.set(connection, { connection, pid: 0, selfEntities: new Set(), channels: new Set() });
      },
      onFrame: (connection, frame) => this.onFrame(connection, frame),
      onClose: (connection) => this.onClose(connection),
    });
    this.log.write(LOG_LEVEL.events, "info", { event: "start", pid: process.pid, runDir: this.options.runDir }, "HAM started");
    if (this.options.configFile !== null) this.config.load(this.options.configFile, true);
  }

  private onFrame(connection: ServerConnection, frame: import("../lib/wire/frame.js").DecodedFrame): void {
    const client = this.clients.get(connection);
    if (client === undefined) return;
    if (frame.kind === "oversize") {
      connection.send({ i: -1, e: "EMSGSIZE", m: `frame of ${frame.length} bytes exceeds ${SERVER_MAX_FRAME_BYTES}` });
      return;
    }
    if (frame.kind === "malformed") {
      connection.send({ i: -1, e: "EINVAL", m: `malformed frame: ${frame.reason}` });
      return;
    }
    const request = parseRequest(frame.value);
    if (typeof request === "string") {
      connection.send({ i: -1, e: "EINVAL", m: request });
      return;
    }
    this.log.write(LOG_LEVEL.trace, "info", { event: "request", op: request.op, pid: client.pid }, "request");
    const reply = (result: unknown) => {
      if (request.i > 0) connection.send({ i: request.i, r: result ?? 0 });
    };
    const replyError = (error: unknown) => {
      const known = error instanceof HamError;
      const code = known ? error.code : "EIO";
      const message = known ? error.message.replace(/^[A-Z]+: /, "") : String(error);
      this.log.write(LOG_LEVEL.detail, "warn", { event: "api-error", op: request.op, code, pid: client.pid }, message);
      if (request.i > 0) connection.send({ i: request.i, e: code, m: message });
    };
    try {
      const result = dispatch(this, client, request.op, request.a);
      if (result instanceof Promise) result.then(reply, replyError);
      else reply(result);
    } catch (error) {
      replyError(error);
    }
  }

  private onClose(connection: ServerConnection): void {
    const client = this.clients.get(connection);
    if (client === undefined) return;
    this.clients.delete(connection);
    this.channels.closeAll(client);
    for (const entity of client.selfEntities) this.monitor.connectionLost(entity, client.pid);
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
    return this.tree.view({ hamPid: process.pid, guardianPid: 0, hamFailures: 0, guardianFailures: 0 }, this.log.verbosity);
  }

  status(): Record<string, unknown> {
    const counts = this.tree.counts();
    const memory = process.memoryUsage();
    return {
      hamPid: process.pid, guardianPid: 0, hamFailures: 0, guardianFailures: 0, ...counts,
      verbosity: this.log.verbosity, runDir: this.options.runDir, mount: this.options.mount, clients: this.clients.size,
      rssBytes: memory.rss, heapUsedBytes: memory.heapUsed,
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

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.write(LOG_LEVEL.events, "info", { event: "stop", reason }, "HAM stopping; monitored processes keep running");
    this.config.close();
    this.monitor.stop();
    for (const client of this.clients.values()) client.connection.close("HAM stopping");
    this.server?.close();
    if (this.files !== null) releaseInstance(this.files);
    this.log.flush();
    this.resolveStopped();
  }
}
