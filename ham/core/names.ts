// The global entity's directory in the /ham view.
export const GLOBAL_DIR = ".global";

// How an entity is named in the log and the /ham view ("" is the global entity).
export const pathOf = (name: string): string => (name === "" ? GLOBAL_DIR : name);
