import * as ham from "../lib/index.js";

// The cross-node group's member in the cluster lab keeps a counter in its group's checkpoint
// (kept in etcd, issue 17): each time it becomes active it reads the counter and reports what it
// read (and when it started the read), then, while active, writes the counter + 1 every ~50 ms
// and reports each value its HAM acknowledged. The lab (checkpoint-watch.ts) judges that no
// acknowledged write is lost: a read never returns less than a value acknowledged before it began.

type Report = (fields: Record<string, unknown>) => Promise<void>;

const SECTION = "counter";
const WRITE_EVERY_MS = 50;
// Errors are reported at most this often (a quorum loss fails every write for seconds).
const ERROR_REPORT_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (error: unknown): string => String((error as { code?: unknown } | null)?.code ?? error);

export class MemberCounter {
  private active = false;
  // Each activation: the loop reads again when it sees a new one.
  private activation = 0;
  private running = false;
  private value = 0;
  private handle: ham.ckpt_handle_t | null = null;
  private lastErrorMs = 0;

  constructor(private readonly group: string, private readonly report: Report) {}

  // The member's role callback, after the lab was told the role.
  role(role: string): void {
    const active = role === "active";
    if (active && !this.active) this.activation += 1;
    this.active = active;
    if (active && !this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    let readFor = 0;
    try {
      while (this.active) {
        try {
          this.handle ??= await ham.ckpt_open("lab", { group: this.group });
          if (readFor !== this.activation) {
            const activation = this.activation;
            const readAt = String(process.hrtime.bigint());
            const read = await ham.ckpt_read(this.handle, SECTION).then((bytes) => Number(bytes.toString("utf8")), (error: unknown) => {
              if (codeOf(error) === "ENOENT") return 0;
              throw error;
            });
            await this.report({ kind: "ckpt-read", value: read, readAt });
            this.value = Math.max(this.value, read);
            readFor = activation;
          }
          const next = this.value + 1;
          await ham.ckpt_write(this.handle, SECTION, String(next));
          this.value = next;
          await this.report({ kind: "ckpt-ack", value: next });
        } catch (error) {
          const code = codeOf(error);
          // A checkpoint unlinked is not something the lab does; a handle on a HAM gone is opened again.
          if (code === "EBADF" || code === "EIDRM") this.handle = null;
          const now = performance.now();
          if (now - this.lastErrorMs > ERROR_REPORT_MS) {
            this.lastErrorMs = now;
            await this.report({ kind: "ckpt-error", code, message: error instanceof Error ? error.message : String(error) });
          }
        }
        await sleep(WRITE_EVERY_MS);
      }
    } finally {
      this.running = false;
      // Made active again just as the loop ended.
      if (this.active) void this.run();
    }
  }
}
