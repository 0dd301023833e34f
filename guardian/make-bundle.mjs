// Bundles the Guardian (and with it the whole HAM it becomes at a takeover), run by `npm run
// build`: dist/guardian/guardian.bundle.mjs, the Guardian's own few modules, and one chunk
// beside it (guardian-ham-<hash>.mjs) with the HAM's code, which the Guardian imports right
// after it is ready (guardian/main.ts). From ~120 files the HAM's code took 225–250 ms here
// (mostly module resolution, by a CPU profile), from one file 110–150 ms. Packages loaded at run
// time through createRequire (immutable, pino-pretty, yaml, fuse-native) and etcd3 (the
// cluster's, loaded only when clustered) and prom-client (--metrics only, from a chunk imported then) stay outside.
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// A chunk of an earlier build is never loaded again: not left beside the new one.
for (const name of readdirSync(join(root, "dist/guardian"))) if (/^guardian-ham-.*\.mjs$/.test(name)) rmSync(join(root, "dist/guardian", name));
await build({
  entryPoints: [join(root, "dist/guardian/main.js")],
  outdir: join(root, "dist/guardian"),
  entryNames: "guardian.bundle",
  chunkNames: "guardian-ham-[hash]",
  outExtension: { ".js": ".mjs" },
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["fuse-native", "pino-pretty", "yaml", "immutable", "etcd3", "@grpc/*", "prom-client"],
  // node-ipc and pino are CommonJS inside: their require() calls need one in an ES module.
  banner: { js: "import { createRequire as hamdBundleRequire } from 'node:module'; const require = hamdBundleRequire(import.meta.url);" },
  logLevel: "warning",
});

// The etcd adapter with etcd3, gRPC and protobufjs in one ES module, dist/ham/cluster/etcd.bundle.mjs,
// which a clustered HAM (or its Guardian) imports instead of dist/ham/cluster/etcd.js. From their
// ~200 CommonJS files the import took 330–380 ms of CPU here, from one ES module 170–220 ms (as a
// CommonJS bundle it was slower: Node scans a CommonJS module imported from an ES module for its
// exports, ~190 ms for this one). The import blocks the event loop of a HAM that takes over soon
// after its Guardian started, before it can answer its own new Guardian's pings.
// The one path etcd3 finds by __dirname (its .proto) is asked of Node's resolver instead, and
// gRPC's (only for a server's channelz and xDS, unused) keep their folder.
const etcdProto = {
  name: "etcd3-proto-path",
  setup(plugin) {
    plugin.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async ({ path }) => {
      const { readFile } = await import("node:fs/promises");
      const source = await readFile(path, "utf8");
      const from = "`${__dirname}/../proto/rpc.proto`";
      if (!source.includes(from)) throw new Error(`${path}: etcd3 no longer loads ${from}; see guardian/make-bundle.mjs`);
      return { contents: source.replace(from, `require.resolve("etcd3/proto/rpc.proto")`), loader: "js" };
    });
  },
};
await build({
  entryPoints: [join(root, "dist/ham/cluster/etcd.js")],
  outfile: join(root, "dist/ham/cluster/etcd.bundle.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  plugins: [etcdProto],
  banner: {
    js: "import { createRequire as hamdBundleRequire } from 'node:module'; import { dirname as hamdDirname } from 'node:path'; "
      + "const require = hamdBundleRequire(import.meta.url); const __dirname = hamdDirname(require.resolve('@grpc/grpc-js'));",
  },
  logLevel: "warning",
});
