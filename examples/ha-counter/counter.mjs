// ha-counter's service: a counter that counts every 10 ms while it is the active member of its
// group, keeps its count in a checkpoint (written after each step), and answers "count?" on
// RUN_DIR/ha-counter.sock (our MsgSend: one line asked, one line answered). Its standby does
// nothing until it is made active; then it reads the checkpoint and counts on from there.
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ckpt_open, ckpt_read, ckpt_write, ham_role_register } from "../../dist/lib/index.js";

const TICK_MS = 10;
const socketPath = join(process.env.HAM_RUN_DIR ?? ".", "ha-counter.sock");
const checkpoint = await ckpt_open("ha-counter", { maxSections: 1, maxSectionBytes: 64 });
let count = 0;
let ticking = null;
let server = null;
let writing = null;

// One step: count, then keep it. A step whose write is still under way is skipped, so a count
// the checkpoint does not hold is at most one step old.
function tick() {
  if (writing !== null) return;
  count += 1;
  writing = ckpt_write(checkpoint, "count", String(count)).finally(() => {
    writing = null;
  });
}

async function restore() {
  try {
    count = Number((await ckpt_read(checkpoint, "count")).toString());
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
    count = 0;
  }
}

function serve() {
  return new Promise((resolve, reject) => {
    // A socket file left by an active that was killed.
    rmSync(socketPath, { force: true });
    server = createServer((connection) => {
      let asked = "";
      connection.on("data", (chunk) => {
        asked += chunk.toString();
        for (let newline = asked.indexOf("\n"); newline >= 0; newline = asked.indexOf("\n")) {
          asked = asked.slice(newline + 1);
          connection.write(`${count}\n`);
        }
      });
      connection.on("error", () => undefined);
    });
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
}

async function stopServing() {
  clearInterval(ticking ?? undefined);
  ticking = null;
  await writing;
  await new Promise((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  server = null;
}

async function activate() {
  if (ticking !== null) return;
  await restore();
  await serve();
  ticking = setInterval(tick, TICK_MS);
  process.stdout.write(`counter ${process.pid}: active from ${count}\n`);
}

const registered = await ham_role_register(async ({ role }) => {
  switch (role) {
    case "active":
      await activate();
      return;
    case "quiescing":
      // Finish what is under way, take no new request: stop listening, keep the count.
      await new Promise((resolve) => (server === null ? resolve() : server.close(() => resolve())));
      server = null;
      return;
    case "quiesced":
    case "standby":
      await stopServing();
      process.stdout.write(`counter ${process.pid}: ${role} at ${count}\n`);
      return;
  }
});
// Not in a group (restart-only.yaml): the one instance serves from its start, on from the checkpoint.
if (registered.group === null) await activate();
