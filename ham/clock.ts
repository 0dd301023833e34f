// CLOCK_MONOTONIC in ms: the same clock in every process of the machine, so deadlines kept in
// the shared state mean the same to the HAM that set them and to the one that takes over.
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;
