// Azurite Tables in its own process for the benchmarks (in memory), printing its connection string.
import { startEmbeddedAzurite } from "../../src/storage/embedded-azurite.js";

const azurite = await startEmbeddedAzurite();
console.log(JSON.stringify({ connectionString: azurite.connectionString }));
process.on("SIGTERM", async () => {
	await azurite.close();
	process.exit(0);
});
