// The cluster lab's own fault kinds (`ham-lab --nodes N`) and their weights, beside today's
// per-node ones (faults.ts), which it applies to one node at a time.
export const CLUSTER_FAULT_WEIGHTS = {
  // SIGKILL of a node's HAM, Guardian, members and clients; it comes back fresh (a reboot).
  "kill-node": 8,
  // SIGSTOP of a node's HAM and Guardian (members run on), then SIGCONT.
  "hang-node": 6,
  // The node's etcd traffic stops (its proxy), then flows again.
  "cut-node": 8,
  // One etcd member SIGKILLed, restarted on its data.
  "kill-etcd-member": 5,
  // Two of the three etcd members SIGKILLed, then restarted.
  "lose-quorum": 3,
  // The cross-node group's active member SIGKILLed on its healthy node.
  "kill-cross-active": 8,
  // A switchover of the cross-node group, waited for, asked on either of its nodes. Only when
  // named in --faults (so the default mix, and the seeds found with it, stay as they were).
  "switchover-cross": 5,
} as const;

// Kinds drawn only when --faults names them.
export const OPT_IN_CLUSTER_FAULTS: readonly string[] = ["switchover-cross"];

export type ClusterFaultKind = keyof typeof CLUSTER_FAULT_WEIGHTS;
