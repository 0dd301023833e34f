// Bundles the Guardian (and with it the whole HAM it becomes at a takeover) into one file, run
// by `npm run build`: dist/guardian/guardian.bundle.mjs. A Guardian loads the HAM's code before
// it is ready, and a HAM killed while its new Guardian loads is a double fault until it is: from
// ~120 files that took 225–250 ms here (mostly module resolution, by a CPU profile), from one
// file 110–150 ms. Packages loaded at run time through createRequire (immutable, pino-pretty,
// yaml, fuse-native) and etcd3 (the cluster's, loaded only when clustered) stay outside.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(root, "dist/guardian/main.js")],
  outfile: join(root, "dist/guardian/guardian.bundle.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["fuse-native", "pino-pretty", "yaml", "immutable", "etcd3", "@grpc/*"],
  // node-ipc and pino are CommonJS inside: their require() calls need one in an ES module.
  banner: { js: "import { createRequire as hamdBundleRequire } from 'node:module'; const require = hamdBundleRequire(import.meta.url);" },
  logLevel: "warning",
});
