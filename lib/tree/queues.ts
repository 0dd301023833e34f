import { HCONDINDEPENDENT, HCONDNOWAIT } from "../constants.js";

export type QueueKind = "NOWAIT" | "INDEPENDENT" | "OTHER";

// Reference §5.4: NOWAIT wins over INDEPENDENT; everything else shares the OTHER queue.
export function conditionQueueName(flags: number): QueueKind {
  if ((flags & HCONDNOWAIT) !== 0) return "NOWAIT";
  if ((flags & HCONDINDEPENDENT) !== 0) return "INDEPENDENT";
  return "OTHER";
}
