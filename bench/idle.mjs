// An idle Node process: the RSS baseline.
setInterval(() => undefined, 1 << 30);
process.send("ready");
