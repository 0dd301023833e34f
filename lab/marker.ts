import { appendFileSync } from "node:fs";

// The execute action of the lab's multistage recovery: appends one line to argv[2], so the
// lab can count how often the step ran.
appendFileSync(process.argv[2] ?? "marks", `${process.env["HAM_ENTITY"] ?? "?"} ${Date.now()}\n`);
