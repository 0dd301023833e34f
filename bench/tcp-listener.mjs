// A TCP listener for bench/probes.mjs's tcp probes, in a process of its own: accepts and
// closes, counting connections; sends its port, then the count when asked.
import { createServer } from "node:net";

let connections = 0;
const server = createServer((socket) => {
  connections += 1;
  socket.on("error", () => undefined);
  socket.destroy();
});
server.listen(0, "127.0.0.1", () => process.send?.({ port: server.address().port }));
process.on("message", () => process.send?.({ connections }));
