// A worker that crashes (SIGSEGV-like abort) every few seconds; the HAM restarts it.
const lifetime = 2000 + Math.floor(Math.random() * 2000);
process.stdout.write(`worker ${process.pid}: up, will crash in ${lifetime} ms\n`);
setTimeout(() => process.abort(), lifetime);
