// ha-counter's client: asks the active counter for its count every 5 ms (reconnecting whenever
// the connection fails) and prints what it saw: every gap in the answers, every step the count
// went back (counting lost), then a summary. `node client.mjs [SECONDS]` (default: until Ctrl-C);
// RUN_DIR from $HAM_RUN_DIR. With --json the summary is one JSON line.
import { connect } from "node:net";
import { join } from "node:path";
import { resolveRunDir } from "../../dist/lib/index.js";

const args = process.argv.slice(2);
const json = args.includes("--json");
const seconds = Number(args.find((arg) => !arg.startsWith("--")) ?? Infinity);
const socketPath = join(resolveRunDir(), "ha-counter.sock");
const started = Date.now();
// Answers come every ~6 ms (5 ms apart, plus a connection each); a longer wait is a gap, counted whole.
const GAP_MS = 20;
const summary = { asked: 0, answered: 0, first: null, last: null, highest: 0, lostCounts: 0, gaps: 0, longestGapMs: 0, unansweredMs: 0 };
let lastAnswerAt = null;

function ask() {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let reply = "";
    const done = (value) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(200, () => done(null));
    socket.on("error", () => done(null));
    socket.on("connect", () => socket.write("count?\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\n")) done(Number(reply.trim()));
    });
  });
}

let stop = false;
process.on("SIGINT", () => {
  stop = true;
});
while (!stop && Date.now() - started < seconds * 1_000) {
  summary.asked += 1;
  const count = await ask();
  const at = Date.now();
  if (count !== null && Number.isFinite(count)) {
    summary.answered += 1;
    summary.first ??= count;
    if (lastAnswerAt !== null && at - lastAnswerAt > GAP_MS) {
      summary.gaps += 1;
      summary.unansweredMs += at - lastAnswerAt;
      summary.longestGapMs = Math.max(summary.longestGapMs, at - lastAnswerAt);
      if (!json) process.stdout.write(`no answer for ${at - lastAnswerAt} ms; count now ${count}\n`);
    }
    if (count < summary.highest) {
      summary.lostCounts += summary.highest - count;
      if (!json) process.stdout.write(`count went back from ${summary.highest} to ${count}\n`);
    }
    summary.highest = Math.max(summary.highest, count);
    summary.last = count;
    lastAnswerAt = at;
  }
  await new Promise((resolve) => setTimeout(resolve, 5));
}
process.stdout.write(json ? `${JSON.stringify(summary)}\n`
  : `asked ${summary.asked}, answered ${summary.answered}, ${summary.gaps} gaps (longest ${summary.longestGapMs} ms), ${summary.lostCounts} counts lost\n`);
