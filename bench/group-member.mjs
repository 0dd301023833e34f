// A service group member for the benchmarks: "<pid> ready" into the FIFO (argv[2]) once it has
// started and registered its role callback, "<pid> <role>" at the end of each role callback
// (right before the HAM hears it acknowledged).
import { openSync, writeSync } from "node:fs";
import { ham_role_register } from "../dist/lib/index.js";

const fifo = openSync(process.argv[2], "w");
const say = (text) => writeSync(fifo, `${process.pid} ${text}\n`);
await ham_role_register(({ role }) => say(role));
say("ready");
