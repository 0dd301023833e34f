import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";

// waitfor: resolves true when `path` exists (watched with chokidar on its parent
// directory; watching the file itself loses events after atomic replaces, feasibility §4c),
// false when `delayMs` passes first. Without a path it is a plain delay that succeeds.
// chokidar is loaded at the first waitfor that has to watch (it costs ~3 MB of RSS). A path
// that appears by a mount is caught by a 50 ms look as well.
export async function waitFor(path: string | null, delayMs: number): Promise<boolean> {
  if (path === null) return new Promise((resolve) => setTimeout(() => resolve(true), delayMs));
  if (existsSync(path)) return true;
  const started = performance.now();
  const { watch } = await import("chokidar");
  const remainingMs = Math.max(0, delayMs - (performance.now() - started));
  return new Promise((resolve) => {
    const name = basename(path);
    const watcher = watch(dirname(path), { depth: 0, ignoreInitial: true, persistent: true });
    let settled = false;
    const settle = (found: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(poll);
      void watcher.close();
      resolve(found);
    };
    const timer = setTimeout(() => settle(existsSync(path)), remainingMs);
    // A path that appears by a mount (a FUSE or NFS server coming back) raises no event in the
    // directory beneath it: look every 50 ms too.
    const poll = setInterval(() => {
      if (existsSync(path)) settle(true);
    }, 50);
    const onAdd = (added: string) => {
      if (basename(added) === name && existsSync(path)) settle(true);
    };
    watcher.on("add", onAdd).on("addDir", onAdd).on("error", () => undefined);
    // The path may have appeared between the first check and the watch being ready.
    watcher.on("ready", () => {
      if (existsSync(path)) settle(true);
    });
  });
}
