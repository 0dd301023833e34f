// Baseline for heartbeat lateness: a bare Node process with COUNT periodic timers of
// PERIOD_MS, spread over the period, reporting how late after its due time each one fired.
const [count, periodMs, durationMs] = process.argv.slice(2).map(Number);
const lateness = [];
const t0 = performance.now();
for (let i = 0; i < count; i += 1) {
  let due = t0 + periodMs + (i * periodMs) / count;
  const tick = () => {
    const at = performance.now();
    lateness.push(at - due);
    due += periodMs;
    if (at - t0 < durationMs) setTimeout(tick, Math.max(0, due - performance.now()));
  };
  setTimeout(tick, due - t0);
}
setTimeout(() => process.send(lateness), durationMs + 2 * periodMs);
