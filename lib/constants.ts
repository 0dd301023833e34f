// QNX ha/ham.h constants, with their QNX names and values (reference §2).

export const ND_LOCAL_NODE = 0;

// Condition types.
export const CONDANY = 0;
export const CONDMIN = 0;
export const CONDDEATH = 1;
export const CONDDETACH = 2;
export const CONDRESTART = 3;
export const CONDHBEATMISSEDLOW = 4;
export const CONDHBEATMISSEDHIGH = 5;
export const CONDABNORMALDEATH = 6;
export const CONDATTACH = 7;
export const CONDSTATE = 8;
export const CONDRAISE = 9;
export const CONDMAX = 9;

// Beyond QNX: service groups' conditions (ham_group_create). Set on a member entity (or the
// global entity), they fire when the member's group fails over, switches over, or is left
// without an active member. Values clear of QNX's condition types.
export const CONDGROUPFAILOVER = 16;
export const CONDGROUPSWITCHOVER = 17;
export const CONDGROUPNOACTIVE = 18;

// Beyond QNX: a health probe of the entity (ham_entity_probe, `probes:` in a config file) failed
// `failureThreshold` times in a row. Fires once per episode; the probe passing
// `successThreshold` times in a row ends the episode.
export const CONDPROBEFAIL = 19;

// Beyond QNX: fault severities of ham_entity_condition_raise that the HAM itself answers when
// asked to (the entity's or its group's fault policy; a group member: fatal → failover). Other
// severities, and these without a policy or a group, only fire conditions, as in QNX.
export const HAMFAULTMINOR = 1;
export const HAMFAULTMAJOR = 2;
export const HAMFAULTFATAL = 3;

// Wildcards.
export const CONDSTATEANY = 0;
export const CONDRAISETYPEANY = 0;
export const CONDRAISECLASSANY = 0;
export const CONDRAISESEVERITYANY = 0;

// General and condition flags.
export const HREARMAFTERRESTART = 0x00000001;
export const HCONDINDEPENDENT = 0x00000002;
export const HCONDNOWAIT = 0x00000004;
export const HCONDOTHER = 0x00000008;
export const HCONDKEEPONEMPTY = 0x00000010;
export const HCONDSTATEFROMSET = 0x00001000;
export const HCONDSTATETOSET = 0x00002000;
export const HCONDSTATEFROMINV = 0x00004000;
export const HCONDSTATETOINV = 0x00008000;
export const HCONDSTATEMASK = 0x0000f000;
export const HCONDRAISEMASK = 0x00000000;

// Action flags.
export const HACTIONDONOW = 0x00000002;
export const HACTIONBREAKONFAIL = 0x00000004;
export const HACTIONKEEPONFAIL = 0x00000008;

// Entity flags.
export const HENTITYKEEPONDEATH = 0x00000002;

// Common flags.
export const HRECURSE = 0x00100000;

// Minimum heartbeat period in nanoseconds: 10 ms here (QNX: 1 s).
export const HAMHBEATMIN = 10_000_000;

// ham_verbose operations.
export const VERBOSE_SET_INCR = 1;
export const VERBOSE_SET_DECR = 2;
export const VERBOSE_SET = 3;
export const VERBOSE_GET = 4;

// *_control commands.
export const HENABLE = 1;
export const HDISABLE = 2;
export const HADDFLAGS = 3;
export const HREMOVEFLAGS = 4;
export const HSETFLAGS = 5;
export const HGETFLAGS = 6;

export const CONDITION_TYPE_NAMES: Readonly<Record<number, string>> = {
  [CONDANY]: "CONDANY",
  [CONDDEATH]: "CONDDEATH",
  [CONDDETACH]: "CONDDETACH",
  [CONDRESTART]: "CONDRESTART",
  [CONDHBEATMISSEDLOW]: "CONDHBEATMISSEDLOW",
  [CONDHBEATMISSEDHIGH]: "CONDHBEATMISSEDHIGH",
  [CONDABNORMALDEATH]: "CONDABNORMALDEATH",
  [CONDATTACH]: "CONDATTACH",
  [CONDSTATE]: "CONDSTATE",
  [CONDRAISE]: "CONDRAISE",
  [CONDGROUPFAILOVER]: "CONDGROUPFAILOVER",
  [CONDGROUPSWITCHOVER]: "CONDGROUPSWITCHOVER",
  [CONDGROUPNOACTIVE]: "CONDGROUPNOACTIVE",
  [CONDPROBEFAIL]: "CONDPROBEFAIL",
};

// Flags valid per item kind (used to reject unknown bits with EINVAL).
export const ENTITY_FLAGS = HENTITYKEEPONDEATH;
export const CONDITION_FLAGS =
  HREARMAFTERRESTART | HCONDINDEPENDENT | HCONDNOWAIT | HCONDOTHER | HCONDKEEPONEMPTY | HCONDSTATEMASK;
export const ACTION_FLAGS = HREARMAFTERRESTART | HACTIONDONOW | HACTIONBREAKONFAIL | HACTIONKEEPONFAIL;
