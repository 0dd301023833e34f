import { chmodSync, chownSync } from "node:fs";
import type { Socket } from "node:net";
import { IPCModule } from "node-ipc";
import { encodeFrame, FrameDecoder, type DecodedFrame } from "./frame.js";

// The HAM side of RUN_DIR/ham.sock: the only file that knows node-ipc. Its traps
// (feasibility §1) are neutralised here: silent, maxConnections raised, rawBuffer with our
// own length-prefixed frames and a maximum frame size, latin1 so bytes pass unchanged,
// unlink off (the instance lock decides who may serve), identity from our own hello,
// disconnects seen on the socket itself (node-ipc's "close" event does not say which),
// and a stuck reader is disconnected instead of buffering without bound.

export interface ServerConnection {
  readonly id: number;
  send(message: unknown): boolean;
  close(reason: string): void;
}

export interface ServerHandlers {
  onOpen(connection: ServerConnection): void;
  onFrame(connection: ServerConnection, frame: DecodedFrame): void;
  onClose(connection: ServerConnection): void;
}

export interface ServerOptions {
  readonly maxConnections: number;
  readonly maxFrameBytes: number;
  readonly maxBufferedBytes: number;
  // The socket's group (mode 0660) with --group; null: owner only (0600).
  readonly gid: number | null;
}

export interface RunningServer {
  close(): void;
}

interface Tracked {
  readonly connection: ServerConnection;
  readonly decoder: FrameDecoder;
  closed: boolean;
}

export function serveSocket(path: string, options: ServerOptions, handlers: ServerHandlers): Promise<RunningServer> {
  const ipc = new IPCModule();
  Object.assign(ipc.config, {
    silent: true,
    rawBuffer: true,
    encoding: "latin1",
    unlink: false,
    maxConnections: options.maxConnections,
  });
  const bySocket = new WeakMap<Socket, Tracked>();
  let nextId = 1;

  const track = (socket: Socket): Tracked => {
    const connection: ServerConnection = {
      id: nextId++,
      send(message) {
        if (socket.destroyed) return false;
        if (socket.writableLength > options.maxBufferedBytes) {
          socket.destroy();
          return false;
        }
        ipc.server.emit(socket, encodeFrame(message));
        return true;
      },
      close(reason) {
        if (socket.destroyed) return;
        ipc.server.emit(socket, encodeFrame({ ev: "bye", reason }));
        socket.end();
      },
    };
    const tracked: Tracked = { connection, decoder: new FrameDecoder(options.maxFrameBytes), closed: false };
    bySocket.set(socket, tracked);
    return tracked;
  };

  // The socket is created with its final mode (no window in which others could connect):
  // the umask is narrowed around the bind, which happens synchronously in start().
  const mask = options.gid === null ? 0o177 : 0o117;
  return new Promise((resolve, reject) => {
    ipc.serve(path, () => {
      if (options.gid !== null) chownSync(path, process.getuid?.() ?? 0, options.gid);
      chmodSync(path, options.gid === null ? 0o600 : 0o660);
      resolve({ close: () => ipc.server.stop() });
    });
    ipc.server.on("connect", (socket) => {
      const tracked = track(socket);
      // node-ipc's own "close" event carries the socket's hadError flag, not the socket.
      socket.once("close", () => {
        if (tracked.closed) return;
        tracked.closed = true;
        handlers.onClose(tracked.connection);
      });
      handlers.onOpen(tracked.connection);
    });
    ipc.server.on("data", (data, socket) => {
      const tracked = bySocket.get(socket);
      if (tracked === undefined || tracked.closed) return;
      for (const frame of tracked.decoder.push(data)) handlers.onFrame(tracked.connection, frame);
    });
    ipc.server.on("error", (error) => {
      // Per-socket errors (EPIPE, ECONNRESET) end in "close"; a listen error fails the start.
      if (ipc.server.server === false || !ipc.server.server.listening) reject(error);
    });
    const previous = process.umask(mask);
    try {
      ipc.server.start();
    } finally {
      process.umask(previous);
    }
  });
}
