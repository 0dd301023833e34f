// Checkpoints (beyond QNX: AIS CKPT): what ckpt_open gives a checkpoint when it asks for no
// limit, and the most it may ask for. Sizes count a section's bytes (not their base64).

export const CKPT_DEFAULT_SECTIONS = 1_024;
export const CKPT_DEFAULT_SECTION_BYTES = 1024 * 1024;
export const CKPT_DEFAULT_BYTES = 64 * 1024 * 1024;

export const CKPT_LIMIT_SECTIONS = 65_536;
// One section travels in one request frame (lib/wire/protocol.ts SERVER_MAX_FRAME_BYTES, 2 MiB):
// 1 MiB as base64 is 1,398,104 bytes of JSON, plus the names.
export const CKPT_LIMIT_SECTION_BYTES = 1024 * 1024;
// Every byte is in the HAM's memory and twice in /dev/shm (snapshot and journal).
export const CKPT_LIMIT_BYTES = 1024 * 1024 * 1024;
// All the checkpoints of one HAM together: past it a write is ENOSPC, so no client can grow the
// HAM (and its Guardian's copy) until the kernel's OOM killer ends it.
export const CKPT_HAM_BYTES = 1024 * 1024 * 1024;
