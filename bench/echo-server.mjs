// Baseline server for the API figures: a plain `net` Unix-socket server speaking the same
// frames as the HAM. It answers every request with a small reply and counts one-way messages.
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";

const { encodeFrame, FrameDecoder } = await import(join(ROOT, "dist/lib/wire/frame.js"));
const server = createServer((socket) => {
  const decoder = new FrameDecoder(1024 * 1024);
  let oneWay = 0;
  socket.on("data", (chunk) => {
    for (const frame of decoder.push(chunk)) {
      if (frame.kind !== "message") continue;
      if (frame.value.i === 0) oneWay += 1;
      else socket.write(encodeFrame({ i: frame.value.i, r: { ok: true, oneWay } }));
    }
  });
  socket.on("error", () => undefined);
});
server.listen(process.argv[2], () => process.send?.("listening"));
