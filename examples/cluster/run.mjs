#!/usr/bin/env node
// A cluster of HAMs on one machine, in one command: `node examples/cluster/run.mjs` (after
// `npm install`, which builds hamd). It starts etcd (3 members on loopback ports, data in a
// temporary directory under /dev/shm), three nodes n1, n2, n3 (each a HAM in its own run
// directory, `ham --node nI --etcd ...`), and a 2N group `db` across n1 and n2 (db.mjs on each).
// It prints what to look at, each role change of the db members, and the line that kills the
// node of the active db: run it in another terminal and watch db on the other node take over.
// Ctrl-C ends everything it started, by pid. Needs etcd: apt-get install etcd-server.
import { mkdtempSync, readFileSync, rmSync, watchFile } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ClusterNodes } from "../../dist/lab/cluster-nodes.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const hamctl = join(here, "../../dist/lib/hamctl/main.js");
const GROUP_NODES = ["n1", "n2"];
// The nodes' run directories and the members' roles file, in one temporary directory.
const root = mkdtempSync("/tmp/hamd-cluster-example-");
const rolesFile = join(root, "db-roles.jsonl");

const restart = [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }];
// n1 and n2 each run their db member and declare the same group; n3 hosts nothing of it.
const config = (node) => !GROUP_NODES.includes(node) ? { entities: [] } : {
  entities: [{ name: "db", command: `${process.execPath} ${join(here, "db.mjs")} ${rolesFile} ${node}`, conditions: restart }],
  groups: [{ name: "db", model: "2N", members: GROUP_NODES.map((name) => `db@${name}`) }],
};

process.stdout.write("starting etcd (3 members) and nodes n1, n2, n3 ...\n");
let cluster;
try {
  cluster = await ClusterNodes.start({ nodes: 3, proxies: false, root, spec: { config, hamArgs: ["--no-mount"] } });
} catch (error) {
  rmSync(root, { recursive: true, force: true });
  process.stderr.write(`cluster example: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
const stop = async () => {
  await cluster.stop();
  rmSync(root, { recursive: true, force: true });
  process.stdout.write("everything ended (by pid) and removed\n");
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

const runDirOf = (name) => cluster.node(name).runDir;
process.stdout.write([
  `etcd: ${cluster.etcd.endpoints.join(",")}`,
  ...cluster.nodes.map((node) => `node ${node.name}: run directory ${node.runDir}`),
  "look at:",
  `  node ${hamctl} --run-dir ${runDirOf("n1")} nodes`,
  `  node ${hamctl} --run-dir ${runDirOf("n1")} ps`,
  `  node ${hamctl} --run-dir ${runDirOf("n2")} status`,
  "move db's active role to the other node, gracefully (asked on any node):",
  `  node ${hamctl} --run-dir ${runDirOf("n1")} switchover db`,
  "",
].join("\n"));

// The members' roles, as they say them, and the kill line for the node of the active.
let seen = 0;
let active = null;
const follow = () => {
  let lines = [];
  try {
    lines = readFileSync(rolesFile, "utf8").split("\n").filter(Boolean);
  } catch {
    return;
  }
  for (const line of lines.slice(seen)) {
    const { member, pid, role, at } = JSON.parse(line);
    process.stdout.write(`${new Date(at).toISOString().slice(11, 23)} ${member} (pid ${pid}): ${role}\n`);
    if (role === "active") {
      active = member.split("@")[1];
      const node = cluster.node(active);
      const ham = node.system.hamPid();
      const pids = [ham, node.system.guardianOf(ham), pid].filter((item) => item > 0);
      process.stdout.write(`to kill node ${active} (its HAM, Guardian and db) and watch db on the other node take over:\n  kill -9 ${pids.join(" ")}\n`);
    }
  }
  seen = lines.length;
};
watchFile(rolesFile, { interval: 100 }, follow);
follow();
process.stdout.write("Ctrl-C ends everything\n");
