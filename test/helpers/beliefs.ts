import { closeSync, openSync, readSync } from "node:fs";

// What the members of a cross-node group believe, from the roles log they append to
// (test/fixtures/member.mjs: "AT ENTITY PID ROLE [lease]" per line): the last role each member
// process took. Read on from where the last reading stopped, so a checker can read it every few ms.
export interface Belief {
  readonly entity: string;
  readonly pid: number;
  readonly role: string;
  // The role was dropped by the client library on its own (its lease ran out).
  readonly lease: boolean;
  readonly at: number;
}

export class RoleLog {
  private readonly last = new Map<number, Belief>();
  private readUpTo = 0;
  private partial = "";

  constructor(readonly path: string) {}

  // Each member process's last role, by pid.
  read(): Map<number, Belief> {
    const fd = openSync(this.path, "r");
    try {
      const chunk = Buffer.alloc(64 * 1024);
      for (let got = readSync(fd, chunk, 0, chunk.length, this.readUpTo); got > 0; got = readSync(fd, chunk, 0, chunk.length, this.readUpTo)) {
        this.readUpTo += got;
        const lines = (this.partial + chunk.subarray(0, got).toString("utf8")).split("\n");
        this.partial = lines.pop() ?? "";
        for (const line of lines) {
          const [at = "", entity = "", pid = "", role = "", lease = ""] = line.split(" ");
          if (role !== "" && role !== "registered") this.last.set(Number(pid), { entity, pid: Number(pid), role, lease: lease === "lease", at: Number(at) });
        }
      }
    } finally {
      closeSync(fd);
    }
    return this.last;
  }
}
