// The test Service Bus broker (test/support) in its own process for the end-to-end benchmark.
import { TestServiceBusBroker } from "../../test/support/service-bus-broker.js";

const broker = await TestServiceBusBroker.start({ lockDurationMs: 30_000 });
// BENCH_SUBSCRIPTIONS="topic:a,b,c" makes a topic's subscriptions, as infrastructure code would.
const [topic, names] = (process.env.BENCH_SUBSCRIPTIONS ?? "").split(":");
for (const name of names?.split(",") ?? []) if (topic && name) broker.createSubscription(topic, name);
console.log(JSON.stringify({ connectionString: broker.connectionString }));
process.on("SIGTERM", async () => {
	await broker.close();
	process.exit(0);
});
