import { expect, it } from "vitest";
import { CheckpointWatch } from "../../dist/lab/checkpoint-watch.js";
import { eventually } from "../helpers/ham-instance.js";

// The cluster lab's "no acknowledged checkpoint write lost", fed by hand: a read must return at
// least every value acknowledged before the read began; acks reported after it began do not count.

const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);

it("a read below a value acknowledged before it began is a violation; one acknowledged after it began is not", async () => {
  const violations: string[] = [];
  const watch = new CheckpointWatch((invariant, detail) => violations.push(`${invariant}: ${detail}`));
  watch.onReport({ kind: "ckpt-ack", entity: "xg@n1", pid: 1, at: 1_000, value: 5 });
  watch.onReport({ kind: "ckpt-ack", entity: "xg@n1", pid: 1, at: 1_050, value: 6 });
  // Began at 1,040 ms: 5 was acknowledged before it, 6 after (a write racing the read).
  watch.onReport({ kind: "ckpt-read", entity: "xg@n2", pid: 2, at: 1_100, value: 5, readAt: ns(1_040) });
  watch.onReport({ kind: "ckpt-error", entity: "xg@n1", pid: 1, at: 1_060, code: "EPERM" });
  // Began at 1,060 ms, read 5: 6 was acknowledged before it — lost.
  watch.onReport({ kind: "ckpt-read", entity: "xg@n2", pid: 3, at: 1_200, value: 5, readAt: ns(1_060) });
  await eventually(() => violations.length > 0, 2_000, "the read judged");
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(violations).toEqual([expect.stringMatching(/^no acknowledged checkpoint write lost: xg@n2 \(pid 3\) read counter 5 .* xg@n1 had reported 6 acknowledged 10 ms before/)]);
  expect([watch.acknowledged, watch.reads, Object.fromEntries(watch.errors)]).toEqual([2, 2, { EPERM: 1 }]);
});
