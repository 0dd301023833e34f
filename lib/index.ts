// hamd: the ham_* API of QNX's High Availability Manager, for Linux.
export * from "./constants.js";
export { HamError, type HamErrorCode } from "./errors.js";
export type { ham_action_t, ham_condition_t, ham_entity_t } from "./client/handles.js";
export * from "./client/connect.js";
export * from "./client/entities.js";
export * from "./client/conditions.js";
export * from "./client/actions.js";
export * from "./client/checkpoints.js";
export * from "./checkpoint-limits.js";
export { resolveRunDir } from "./run-dir.js";
export * from "./client/groups.js";
