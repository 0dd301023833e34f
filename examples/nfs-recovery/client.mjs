// The seed's client (QNX's ha_open example, for real): reads MOUNT/data through ha_open and
// ha_dup, taking turns, in 64 KB pieces with a pause between them. When the server dies, a
// read fails; the recovery function waits for the file to be back, reopens it, and the read
// goes on from the saved offset (the recovery seeks there, as the seed's does). Prints what it read and how many recoveries it took.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ha_close, ha_dup, ha_lseek, ha_open, ha_read, ha_reopen } from "../../dist/lib/cover/index.js";

const [mount, sizeText, pauseText = "5"] = process.argv.slice(2);
const size = Number(sizeText);
const path = join(mount, "data");
// The seed's handle: how many recoveries, and the offset to resume from.
const state = { recoveries: 0, offset: 0 };

async function recoverConnection(handle, hdl) {
  process.stdout.write(`recovering for handle ${handle} inside function\n`);
  for (let waited = 0; !existsSync(path); waited += 20) {
    if (waited > 10_000) return -1;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  hdl.recoveries += 1;
  const fd = await ha_reopen(handle, path, "r");
  await ha_lseek(handle, hdl.offset); // as the seed: back to the saved offset
  return fd;
}

const fd = await ha_open(path, "r", recoverConnection, state);
const fd2 = ha_dup(fd);
process.stdout.write("reading\n");
const data = Buffer.alloc(size);
let at = 0;
for (let turn = 0; at < size; turn += 1) {
  const bytes = await ha_read(turn % 2 === 0 ? fd : fd2, data, at, Math.min(65_536, size - at));
  if (bytes === 0) break;
  at += bytes;
  state.offset = at;
  await new Promise((resolve) => setTimeout(resolve, Number(pauseText)));
}
await ha_close(fd);
await ha_close(fd2);
const intact = at === size && data.every((byte, i) => byte === i % 251);
process.stdout.write(`read ${at} bytes, ${intact ? "all in order" : "NOT the file's bytes"}; total recoveries, ${state.recoveries}\n`);
process.exit(intact ? 0 : 1);
