// swarm-mail (SwarmTools' event store: libSQL in WAL mode, one transaction per event)
// appending events one at a time, as fleet-hive's durable single append does.
//
//   node append.mjs PROJECT_DIR COUNT
//
// swarm-mail keeps one database for every project under $HOME/.config/swarm-tools/: the
// caller gives a scratch HOME. Prints one JSON object: appends per second over the timed
// appends (after a warm-up of 50), and their latencies (ms).
import { getSwarmMailLibSQL } from "swarm-mail";

const [project, countText = "1000"] = process.argv.slice(2);
const count = Number(countText);
if (!project || !Number.isInteger(count) || count <= 0) {
  console.error("usage: node append.mjs PROJECT_DIR COUNT");
  process.exit(2);
}

const opened = performance.now();
const mail = await getSwarmMailLibSQL(project);
const openMs = performance.now() - opened;

const event = (i) => ({
  type: "agent_active",
  agent_name: `agent-${i % 16}`,
  project_key: project, // the event names its project (the store holds them all)
  timestamp: Date.now(),
});
for (let i = 0; i < 50; i++) await mail.appendEvent(event(i)); // warm-up: not measured

const latencies = [];
const started = performance.now();
for (let i = 0; i < count; i++) {
  const t = performance.now();
  await mail.appendEvent(event(i));
  latencies.push(performance.now() - t);
}
const seconds = (performance.now() - started) / 1000;
await mail.close();

console.log(JSON.stringify({
  peer: "swarm-mail",
  count,
  open_ms: openMs,
  appends_per_s: count / seconds,
  latencies_ms: latencies,
}));
