// hamd/cover: the HA cover library (QNX libha). File handles so far; IPC covers come next.
export * from "./files.js";
