// The part of node-ipc 12.0.0 hamd uses (it ships no types). Only lib/wire/server.ts
// and lib/client/connection.ts import it.
declare module "node-ipc" {
  import type { Server as NetServer, Socket } from "node:net";

  interface IpcConfig {
    silent: boolean;
    rawBuffer: boolean;
    encoding: BufferEncoding;
    maxConnections: number;
    unlink: boolean;
    retry: number;
    maxRetries: number;
    stopRetrying: boolean;
    readableAll: boolean;
    writableAll: boolean;
  }

  interface IpcServer {
    server: NetServer | false;
    on(event: "start", handler: () => void): void;
    on(event: "connect", handler: (socket: Socket) => void): void;
    on(event: "data", handler: (data: Buffer, socket: Socket) => void): void;
    on(event: "close", handler: (socket: Socket) => void): void;
    on(event: "error", handler: (error: unknown) => void): void;
    emit(socket: Socket, data: Buffer): void;
    start(): void;
    stop(): void;
  }

  interface IpcClient {
    socket: Socket | false;
    on(event: "connect" | "disconnect" | "destroy", handler: () => void): void;
    on(event: "data", handler: (data: Buffer) => void): void;
    on(event: "error", handler: (error: unknown) => void): void;
    emit(data: Buffer): void;
  }

  export class IPCModule {
    config: IpcConfig;
    server: IpcServer;
    of: Record<string, IpcClient | undefined>;
    serve(path: string, callback?: () => void): void;
    connectTo(id: string, path: string, callback?: () => void): void;
    disconnect(id: string): void;
  }
}
