import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// A file of dist/ seen from the module asking (`base`: its import.meta.url): the first of
// `relatives` that exists. The same code runs from dist/'s modules and from the Guardian's
// bundle (dist/guardian/guardian.bundle.mjs), whose import.meta.url is another folder.
export function distFile(base: string, relatives: readonly string[]): string {
  const paths = relatives.map((relative) => fileURLToPath(new URL(relative, base)));
  return paths.find((path) => existsSync(path)) ?? paths[paths.length - 1] ?? "";
}
