// Test-only fail points (as FreeBSD's fail(9)): HAMD_FAILPOINT=<point>:<entity> makes the HAM
// SIGKILL itself at that point, so a test can put a HAM's death exactly where the fault lab
// found one by chance. Read once and removed from the environment, so the Guardian that takes
// over does not inherit it. Unset in production, it costs one comparison.
//   after-restart-spawn: a restart spawned the entity's process; its pid is not yet journaled.
//   after-attach-spawn: an attach spawned the entity's process; its reply is not yet sent.
//   journal-write:<op>: the first write of the shared state while a request `op` is handled
//     (its changes and its reply are written; the reply is not yet sent).
//   after-ckpt-txn:<op>: the etcd transaction of a cross-node group's checkpoint request `op`
//     (ckpt_write, ckpt_delete, ckpt_unlink) succeeded, its answer key with it; no reply sent.
const armed = process.env["HAMD_FAILPOINT"] ?? "";
delete process.env["HAMD_FAILPOINT"];

export function failPoint(point: string, subject: string): void {
  if (armed !== "" && armed === `${point}:${subject}`) process.kill(process.pid, "SIGKILL");
}
