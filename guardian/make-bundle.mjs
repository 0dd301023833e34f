// Bundles the Guardian (and with it the whole HAM it becomes at a takeover), run by `npm run
// build`: dist/guardian/guardian.bundle.mjs, the Guardian's own few modules, and one chunk
// beside it (guardian-ham-<hash>.mjs) with the HAM's code, which the Guardian imports right
// after it is ready (guardian/main.ts). From ~120 files the HAM's code took 225–250 ms here
// (mostly module resolution, by a CPU profile), from one file 110–150 ms. Packages loaded at run
// time through createRequire (immutable, pino-pretty, yaml, fuse-native) and etcd3 (the
// cluster's, loaded only when clustered) stay outside.
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
  external: ["fuse-native", "pino-pretty", "yaml", "immutable", "etcd3", "@grpc/*"],
  // node-ipc and pino are CommonJS inside: their require() calls need one in an ES module.
  banner: { js: "import { createRequire as hamdBundleRequire } from 'node:module'; const require = hamdBundleRequire(import.meta.url);" },
  logLevel: "warning",
});
