// A bare client of the wire format (4-byte length + JSON) on a plain `net` socket: used to
// drive both the HAM and the baseline echo server with exactly the same client-side cost.
import { connect } from "node:net";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";

const { encodeFrame, FrameDecoder } = await import(join(ROOT, "dist/lib/wire/frame.js"));

export function openWire(path) {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    const pending = new Map();
    let nextId = 1;
    socket.on("data", (chunk) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.kind !== "message" || typeof frame.value?.i !== "number") continue;
        const waiter = pending.get(frame.value.i);
        pending.delete(frame.value.i);
        if (frame.value.e !== undefined) waiter?.reject(new Error(`${frame.value.e}: ${frame.value.m}`));
        else waiter?.resolve(frame.value.r);
      }
    });
    socket.once("error", reject);
    socket.once("connect", () =>
      resolve({
        request(op, args) {
          const i = nextId++;
          return new Promise((res, rej) => {
            pending.set(i, { resolve: res, reject: rej });
            socket.write(encodeFrame({ i, op, a: args }));
          });
        },
        notify(op, args) {
          socket.write(encodeFrame({ i: 0, op, a: args }));
        },
        close: () => socket.destroy(),
      }));
  });
}
