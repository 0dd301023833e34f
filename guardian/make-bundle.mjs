// Bundles the Guardian (and with it the whole HAM it becomes at a takeover), run by `npm run
// build`: dist/guardian/guardian.bundle.mjs, the Guardian's own few modules, and one chunk
// beside it (guardian-ham-<hash>.mjs) with the HAM's code, which the Guardian imports right
// after it is ready (guardian/main.ts). From ~120 files the HAM's code took 225–250 ms here
// (mostly module resolution, by a CPU profile), from one file 110–150 ms. Packages loaded at run
// time through createRequire (immutable, pino-pretty, yaml, fuse-native) and etcd3 (the
// cluster's, loaded only when clustered) and prom-client (--metrics only, from a chunk imported then) stay outside.
import { build } from "esbuild";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
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
// etcd3 parses its .proto files (found by __dirname) at every load: 85 ms of the import's CPU
// here. The bundle gets them parsed at build time instead, as protobufjs JSON handed to
// proto-loader's fromJSON (what its loadSync does after parsing, with the same options); gRPC's
// own __dirname paths (a server's channelz and xDS, unused) keep their folder.
const etcdProto = {
  name: "etcd3-proto-json",
  setup(plugin) {
    plugin.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async ({ path }) => {
      const source = readFileSync(path, "utf8");
      const from = "(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`, {";
      if (!source.includes(from)) throw new Error(`${path}: etcd3 no longer loads its .proto as expected; see guardian/make-bundle.mjs`);
      // The protobufjs proto-loader itself uses, and the option of etcd3's that changes names.
      const protobuf = createRequire(createRequire(path).resolve("@grpc/proto-loader"))("protobufjs");
      const parsed = new protobuf.Root().loadSync(join(dirname(path), "../proto/rpc.proto"), { keepCase: true });
      return { contents: source.replace(from, `(0, proto_loader_1.fromJSON)(${JSON.stringify(parsed.toJSON())}, {`), loader: "js" };
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
