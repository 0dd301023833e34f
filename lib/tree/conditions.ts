// What a condition's type and flags decide: its queue, and whether it is a death condition.
import { CONDABNORMALDEATH, CONDDEATH, CONDGROUPFAILOVER, CONDGROUPNOACTIVE, CONDGROUPSWITCHOVER, HCONDINDEPENDENT, HCONDNOWAIT } from "../constants.js";

export type QueueKind = "NOWAIT" | "INDEPENDENT" | "OTHER";

// Reference §5.4: NOWAIT wins over INDEPENDENT; everything else shares the OTHER queue.
export function conditionQueueName(flags: number): QueueKind {
  if ((flags & HCONDNOWAIT) !== 0) return "NOWAIT";
  if ((flags & HCONDINDEPENDENT) !== 0) return "INDEPENDENT";
  return "OTHER";
}

// A death condition (where a restart action may sit, and whose actions are pruned by default).
export const isDeathType = (type: number): boolean => type === CONDDEATH || type === CONDABNORMALDEATH;

// A service group's condition type (beyond QNX: CONDGROUPFAILOVER, CONDGROUPSWITCHOVER, CONDGROUPNOACTIVE).
export const isGroupConditionType = (type: number): boolean =>
  type === CONDGROUPFAILOVER || type === CONDGROUPSWITCHOVER || type === CONDGROUPNOACTIVE;
