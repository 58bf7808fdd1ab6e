// The test Service Bus broker (test/support) in its own process for the end-to-end benchmark.
import { TestServiceBusBroker } from "../../test/support/service-bus-broker.js";

const broker = await TestServiceBusBroker.start({ lockDurationMs: 30_000 });
console.log(JSON.stringify({ connectionString: broker.connectionString }));
process.on("SIGTERM", async () => {
	await broker.close();
	process.exit(0);
});
