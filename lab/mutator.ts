import { createInterface } from "node:readline";
import * as ham from "../lib/index.js";
import { Random } from "./random.js";

// The lab's mutating client: creates placeholder entities with a CONDRAISE condition, raises
// them and detaches them, one request at a time, forever. Every outcome is a JSON line on
// stdout, so the lab knows what was acknowledged ("ack"), what is unknown ("error": the
// request may or may not have been applied) and what was sent. "pause" on stdin stops it
// after the request under way and prints {"op":"paused"}; "resume" goes on.
const random = new Random(Number(process.argv[2] ?? 1));
// The pause between requests is 10–60 ms times this (argv[3]): N nodes on one machine share
// one mutator's rate.
const slower = Math.max(1, Number(process.argv[3] ?? 1));
const RAISE = [1, 1, 1] as const;
const live: string[] = [];
let count = 0;
let paused: (() => void) | null = null;
let pauseAsked = false;

const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "pause") pauseAsked = true;
  if (line === "resume") {
    pauseAsked = false;
    paused?.();
    paused = null;
  }
});

async function step(): Promise<void> {
  const roll = random.next();
  if (live.length < 5 || (roll < 0.25 && live.length < 100)) {
    const name = `mut-${++count}`;
    say({ op: "create", name, state: "sent" });
    const entity = await ham.ham_entity(name, 0, 0);
    const condition = await ham.ham_condition_raise(entity, "raised", ...RAISE, 0);
    await ham.ham_action_log(condition, "note", "raised", 0, 3, 0);
    live.push(name);
    say({ op: "create", name, state: "ack" });
  } else if (roll < 0.9) {
    const name = random.pick(live);
    say({ op: "raise", name, state: "sent" });
    await ham.ham_entity_condition_raise(await ham.ham_entity_handle(0, name, 0), ...RAISE, 0);
    say({ op: "raise", name, state: "ack" });
  } else {
    const name = live.splice(Math.floor(random.next() * live.length), 1)[0] as string;
    say({ op: "detach", name, state: "sent" });
    await ham.ham_detach_name(0, name, 0);
    say({ op: "detach", name, state: "ack" });
  }
}

await ham.ham_connect(0);
for (;;) {
  if (pauseAsked) {
    say({ op: "paused" });
    await new Promise<void>((resolve) => {
      paused = resolve;
    });
  }
  try {
    await step();
  } catch (error) {
    say({ op: "error", code: (error as { code?: string }).code ?? "", message: String(error) });
  }
  await new Promise((resolve) => setTimeout(resolve, random.between(10, 60) * slower));
}
