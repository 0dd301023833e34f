// hamd/cover: the HA cover library (QNX libha): file handles and message connections whose
// operations survive a server's restart through the application's recovery function.
export * from "./recovery.js";
export * from "./files.js";
export * from "./msg.js";
