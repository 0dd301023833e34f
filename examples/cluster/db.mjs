// The example's "database": a member of the 2N group `db` that spans nodes n1 and n2. It does
// nothing but say, in the file argv[2], each role its node's HAM hands it (the HAM starts it;
// HAM_ENTITY and the node name argv[3] say who it is). A real service would start or stop
// serving here.
import { appendFileSync } from "node:fs";
import * as ham from "../../dist/lib/index.js";

const rolesFile = process.argv[2];
const me = `${process.env.HAM_ENTITY ?? "db"}@${process.argv[3] ?? "?"}`;
const say = (role) => appendFileSync(rolesFile, `${JSON.stringify({ at: Date.now(), member: me, pid: process.pid, role })}\n`);

say("started");
for (;;) {
  try {
    await ham.ham_role_register(async ({ role }) => say(role));
    break;
  } catch {
    // the HAM is taking over: once more
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
