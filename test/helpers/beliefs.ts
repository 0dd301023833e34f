import { closeSync, openSync, readSync } from "node:fs";
import { eventually, isAlive } from "./ham-instance.js";

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

const serving = (role: string): boolean => role === "active" || role === "quiescing";

// A cross-node group's members (entity `member` on each node, as MEMBER@NODE in the log) as the
// tests wait on them, and a checker that samples their beliefs every few ms for two actives.
export class Members extends RoleLog {
  readonly violations: string[] = [];
  samples = 0;
  private checker: NodeJS.Timeout | undefined;

  constructor(path: string, private readonly member = "db") {
    super(path);
  }

  // The live members that believe they serve (active, or quiescing: still serving).
  activeNow(): Belief[] {
    return [...this.read().values()].filter((belief) => serving(belief.role) && isAlive(belief.pid));
  }

  // Exactly one live member that believes it is active, on node `where` if given.
  oneActive(where: string | null = null, timeoutMs = 10_000): Promise<Belief> {
    return eventually(() => {
      const active = this.activeNow();
      return active.length === 1 && active[0]?.role === "active" && (where === null || active[0].entity === `${this.member}@${where}`) ? active[0] : null;
    }, timeoutMs, `one active member${where === null ? "" : ` on ${where}`}`);
  }

  // Node `node`'s member believes it is standby (a live process).
  standbyOn(node: string, timeoutMs = 10_000): Promise<Belief> {
    return eventually(() => [...this.read().values()].find((belief) => belief.entity === `${this.member}@${node}` && belief.role === "standby" && isAlive(belief.pid)) ?? null,
      timeoutMs, `${this.member}@${node} standby`);
  }

  // Node `node`'s member made active: the active one, if elsewhere, SIGKILLed once `node`'s is standby.
  async makeActive(node: string): Promise<Belief> {
    const active = await this.oneActive();
    if (active.entity === `${this.member}@${node}`) return active;
    await this.standbyOn(node);
    process.kill(active.pid, "SIGKILL");
    return this.oneActive(node);
  }

  startChecker(everyMs = 5): void {
    this.checker = setInterval(() => {
      this.samples += 1;
      const active = this.activeNow();
      if (active.length > 1) this.violations.push(`${this.samples}: ${active.map((belief) => `${belief.entity} pid ${belief.pid} ${belief.role}`).join(" and ")}`);
    }, everyMs);
  }

  // What the checker saw, in one line.
  stopChecker(): string {
    clearInterval(this.checker);
    return `checker: ${this.samples} samples, ${this.violations.length} with two actives`;
  }
}
