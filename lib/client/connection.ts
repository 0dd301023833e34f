import { IPCModule } from "node-ipc";
import { HamError } from "../errors.js";
import { encodeFrame, FrameDecoder } from "../wire/frame.js";
import { CLIENT_MAX_FRAME_BYTES, SERVER_MAX_FRAME_BYTES } from "../wire/protocol.js";

// The client side of RUN_DIR/ham.sock: the only client file that knows node-ipc.
// Silent, rawBuffer with our frames, latin1 so bytes pass unchanged, no automatic retry
// (a message sent while disconnected would be lost silently: feasibility §1).

export interface Link {
  send(message: unknown): void;
  close(): void;
}

export interface LinkHandlers {
  onMessage(value: unknown): void;
  onClose(): void;
}

export function openLink(socketPath: string, handlers: LinkHandlers): Promise<Link> {
  const ipc = new IPCModule();
  Object.assign(ipc.config, { silent: true, rawBuffer: true, encoding: "latin1", maxRetries: 0, stopRetrying: true });
  const decoder = new FrameDecoder(CLIENT_MAX_FRAME_BYTES);
  return new Promise((resolve, reject) => {
    let open = false;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      ipc.disconnect("ham");
      if (open) handlers.onClose();
    };
    ipc.connectTo("ham", socketPath);
    const client = ipc.of["ham"];
    if (client === undefined) {
      reject(new HamError("EBADF", "cannot create a connection"));
      return;
    }
    client.on("connect", () => {
      open = true;
      resolve({
        send(message) {
          if (closed) throw new HamError("EBADF", "connection to the HAM is closed");
          const frame = encodeFrame(message);
          if (frame.length - 4 > SERVER_MAX_FRAME_BYTES) throw new HamError("EMSGSIZE", "request larger than the HAM accepts");
          client.emit(frame);
        },
        close,
      });
    });
    client.on("data", (data) => {
      for (const frame of decoder.push(data)) if (frame.kind === "message") handlers.onMessage(frame.value);
    });
    client.on("error", (error) => {
      if (!open) {
        closed = true;
        ipc.disconnect("ham");
        reject(new HamError("EBADF", `cannot connect to the HAM at ${socketPath}: ${(error as Error).message ?? String(error)}`, { cause: error }));
      }
    });
    client.on("disconnect", close);
    client.on("destroy", close);
  });
}
