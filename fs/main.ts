#!/usr/bin/env node
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { constants } from "node:fs";
import { Session } from "../lib/client/session.js";
import type { Node } from "../lib/tree/node.js";

// hamfs: the HAM's tree, read-only, at a FUSE mount. Its own process, started and restarted
// by the HAM as the entity "hamfs", and a client of the HAM like any other (so it rides a
// takeover: a read during one waits for the new HAM). Usage: main.js RUN_DIR MOUNT.
type FuseCtor = typeof import("fuse-native");
const Fuse = createRequire(import.meta.url)("fuse-native") as FuseCtor;
// fuse-native unmounts through a shell (`exec("fusermount -uz " + path)`): no shell here.
(Fuse as unknown as { unmount: (mnt: string, cb: (error: Error | null) => void) => void }).unmount = fusermountLazy;

// A third argument: the gid of --group, to which the view opens (0440 files, 0550 dirs).
const [runDir, mount, groupArg] = process.argv.slice(2) as [string, string, string | undefined];
const group = groupArg === undefined ? null : Number(groupArg);
// Directories are cached until the HAM says their entity changed (it sends the names of
// the entities each change touched); file sizes for FILE_CACHE_MS (some file lines, like
// the last heartbeat, change without a change event). The kernel caches for as long.
const FILE_CACHE_MS = 50;
const EX_NOFUSE = 78;

function fusermountLazy(mnt: string, cb: (error: Error | null) => void): void {
  execFile("fusermount", ["-u", "-z", mnt], (error) => cb(error));
}

const session = await Session.open(runDir);
interface Cached {
  readonly at: number;
  readonly value: { type: "dir" | "file"; size: number; entries?: Node };
}
// By entity (the first path segment; "" for the root's own files), then by path.
const cache = new Map<string, Map<string, Cached>>();
const segmentOf = (path: string) => path.split("/")[1] ?? "";
const cached = (path: string) => cache.get(segmentOf(path))?.get(path);
function remember(path: string, value: Cached["value"], at: number): void {
  const segment = segmentOf(path);
  let entries = cache.get(segment);
  if (entries === undefined) cache.set(segment, (entries = new Map()));
  entries.set(path, { at, value });
}
function forget(names: readonly string[]): void {
  cache.delete(""); // the root listing and /.info (its counts)
  for (const name of names) cache.delete(name === "" ? ".global" : name);
}
session.onChanged = forget;
session.onReconnect = () => {
  cache.clear();
  void session.request("watch", {}).catch(() => undefined);
};
await session.request("watch", {});
const open = new Map<number, Buffer>();
let nextFd = 1;
const started = new Date();
const uid = process.getuid?.() ?? 0;
const gid = group ?? process.getgid?.() ?? 0;

function attr(type: "dir" | "file", size: number) {
  const mode = type === "dir" ? (group === null ? 0o40500 : 0o40550) : (group === null ? 0o100400 : 0o100440);
  return { mode, size, uid, gid, mtime: started, atime: started, ctime: started, nlink: type === "dir" ? 2 : 1 };
}

function errno(error: unknown): number {
  const code = (error as { code?: string }).code;
  if (code === "ENOENT") return Fuse.ENOENT;
  if (code === "EINVAL") return Fuse.EISDIR;
  return Fuse.EIO;
}

async function lookup(path: string): Promise<Cached["value"]> {
  const hit = cached(path);
  if (hit !== undefined && (hit.value.type === "dir" || Date.now() - hit.at < FILE_CACHE_MS)) return hit.value;
  const node = (await session.request("ls", { path })) as { type: "dir"; entries: Array<{ name: string; type: "dir" | "file"; size: number }> } | { type: "file"; size: number };
  const now = Date.now();
  const value = node.type === "dir" ? { type: "dir" as const, size: 0, entries: node as unknown as Node } : { type: "file" as const, size: node.size };
  remember(path, value, now);
  if (node.type === "dir") {
    for (const entry of node.entries) {
      const child = `${path === "/" ? "" : path}/${entry.name}`;
      // A child directory is known to exist; its own listing is fetched when asked for.
      if (entry.type === "file") remember(child, { type: "file", size: entry.size }, now);
      else if (cached(child) === undefined) remember(child, { type: "dir", size: 0 }, now);
    }
  }
  return value;
}

const readOnly = (...args: unknown[]) => (args.at(-1) as (code: number) => void)(Fuse.EROFS);
const ops = {
  getattr(path: string, cb: (code: number, stat?: unknown) => void) {
    lookup(path).then((node) => cb(0, attr(node.type, node.size)), (error) => cb(errno(error)));
  },
  readdir(path: string, cb: (code: number, names?: string[], stats?: unknown[]) => void) {
    const hit = cached(path);
    if (hit !== undefined && hit.value.entries === undefined) cache.get(segmentOf(path))?.delete(path); // known to exist, not listed yet
    lookup(path).then((node) => {
      if (node.type !== "dir") return cb(Fuse.ENOTDIR);
      const entries = (node.entries as unknown as { entries: Array<{ name: string; type: "dir" | "file"; size: number }> }).entries;
      const dir = attr("dir", 0);
      cb(0, [".", "..", ...entries.map((entry) => entry.name)], [dir, dir, ...entries.map((entry) => attr(entry.type, entry.size))]);
    }, (error) => cb(errno(error)));
  },
  open(path: string, flags: number, cb: (code: number, fd?: number) => void) {
    if ((flags & 3) !== constants.O_RDONLY || (flags & constants.O_TRUNC) !== 0) return cb(Fuse.EROFS);
    // The bytes are fixed at open: a reader sees one consistent rendering.
    session.request("cat", { path }).then((content) => {
      const fd = nextFd++;
      open.set(fd, Buffer.from(String(content)));
      cb(0, fd);
    }, (error) => cb(errno(error)));
  },
  read(_path: string, fd: number, buffer: Buffer, length: number, position: number, cb: (bytes: number) => void) {
    const content = open.get(fd);
    if (content === undefined || position >= content.length) return cb(0);
    cb(content.copy(buffer, 0, position, Math.min(content.length, position + length)));
  },
  release(_path: string, fd: number, cb: (code: number) => void) {
    open.delete(fd);
    cb(0);
  },
  // Every way to change anything: EROFS (without them FUSE answers ENOSYS, feasibility §5).
  truncate: readOnly, ftruncate: readOnly, write: readOnly, create: readOnly, unlink: readOnly, mkdir: readOnly,
  rmdir: readOnly, rename: readOnly, chmod: readOnly, chown: readOnly, utimens: readOnly, symlink: readOnly,
  link: readOnly, mknod: readOnly, setxattr: readOnly, removexattr: readOnly,
};

// A mount left by a server that died (ENOTCONN) is removed before mounting again.
await stat(mount).catch(async (error: NodeJS.ErrnoException) => {
  if (error.code === "ENOTCONN") await new Promise((resolve) => fusermountLazy(mount, resolve));
});
const fuse = new Fuse(mount, ops as unknown as Record<string, (...args: unknown[]) => void>, {
  autoUnmount: true, attrTimeout: FILE_CACHE_MS / 1000, entryTimeout: FILE_CACHE_MS / 1000, fsname: "hamd",
  // Others than the mounting user may look only with --group, and then the kernel checks the modes.
  ...(group === null ? {} : { allowOther: true, defaultPermissions: true }),
});
fuse.mount((error) => {
  if (error === null) return;
  process.stderr.write(`hamfs: cannot mount ${mount}: ${error.message}\n`);
  process.exit(EX_NOFUSE);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  fuse.unmount(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// No HAM any more (the session gave up reconnecting): never leave a mount that answers nothing.
setInterval(() => {
  if (session.closed) stop();
}, 200);

