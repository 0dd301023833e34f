// The baseline supervisor: the least a Node process can do to restart a child, a bare
// spawn-on-exit loop with the same spawn options the HAM uses. SIGTERM ends it and its child.
import { spawn } from "node:child_process";

const [file, ...args] = process.argv.slice(2);
let child;
function start() {
  child = spawn(file, args, { detached: true, stdio: ["ignore", "inherit", "inherit"] });
  child.on("exit", () => {
    if (!stopping) start();
  });
}
let stopping = false;
process.on("SIGTERM", () => {
  stopping = true;
  child?.kill("SIGKILL");
  process.exit(0);
});
start();
