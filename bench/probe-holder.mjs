// The probing load of bench/probes.mjs: one process self-attaches COUNT entities (no
// heartbeat) and gives each a tcp probe every INTERVAL ms against PORT; the first EXECS of them
// get an exec probe (/bin/true) as well. Sends `ready` once all are set, then stays.
import { join } from "node:path";
import { ROOT } from "./lib.mjs";

const api = await import(join(ROOT, "dist/lib/index.js"));
const [count, port, intervalMs, execs] = process.argv.slice(2).map(Number);
try {
  for (let i = 0; i < count; i += 1) {
    const entity = await api.ham_attach_self(`probed-${i}`, 0, 0, 0, 0);
    await api.ham_entity_probe(entity, { kind: "tcp", port, intervalMs, timeoutMs: 500 });
    if (i < execs) await api.ham_entity_probe(entity, { kind: "exec", command: "/bin/true", intervalMs, timeoutMs: 500 });
  }
  process.send({ ready: true });
} catch (error) {
  process.send({ failed: String(error) });
}
