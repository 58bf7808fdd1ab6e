// REST load generator, run in its own process (autocannon). Usage:
//   rest-load.ts <baseUrl> <scenarios: create,get,list,update> <seconds> <connections> <updateCount> [seedCount]
// Runs the scenarios one after another (in one process: a process start each cost the quick run
// seconds), each seeding what it needs through the API first; prints one JSON line, an array.
import autocannon from "autocannon";
import { authHeader, seedOrders } from "./lib.js";

const [
	baseUrl = "",
	scenarios = "get",
	secondsArg = "5",
	connectionsArg = "20",
	updatesArg = "2000",
	seedArg = "1000",
] = process.argv.slice(2);
const seconds = Number(secondsArg);
const connections = Number(connectionsArg);
const json = { "content-type": "application/json", ...authHeader() };
const body = JSON.stringify({ customerName: "Bench Customer", productName: "Bench Product" });

async function runScenario(scenario: string) {
	let options: autocannon.Options;
	if (scenario === "create") {
		options = {
			url: baseUrl,
			duration: seconds,
			requests: [{ method: "POST", path: "/api/orders/create", headers: json, body }],
		};
	} else if (scenario === "get") {
		const ids = await seedOrders(baseUrl, Number(seedArg));
		let i = 0;
		options = {
			url: baseUrl,
			duration: seconds,
			requests: [
				{
					method: "GET",
					headers: authHeader(),
					setupRequest: (req) => ({ ...req, path: `/api/orders/${ids[i++ % ids.length]}` }),
				},
			],
		};
	} else if (scenario === "list") {
		await seedOrders(baseUrl, Number(seedArg));
		options = {
			url: baseUrl,
			duration: seconds,
			requests: [{ method: "GET", path: "/api/orders?limit=100", headers: authHeader() }],
		};
	} else {
		// Every request is a real change (Pending -> Processing) on its own order, so none is a no-op.
		const ids = await seedOrders(baseUrl, Number(updatesArg));
		let i = 0;
		options = {
			url: baseUrl,
			amount: ids.length,
			requests: [
				{
					method: "PUT",
					headers: json,
					body: '"Processing"',
					setupRequest: (req) => ({ ...req, path: `/api/orders/update-status/${ids[i++]}` }),
				},
			],
		};
	}
	const result = await autocannon({ ...options, connections });
	return {
		scenario,
		rps: result.requests.average,
		p50: result.latency.p50,
		p99: result.latency.p99,
		requests: result.requests.total,
		errors: result.errors + result.timeouts,
		non2xx: result.non2xx,
	};
}

async function main() {
	const results = [];
	for (const scenario of scenarios.split(",")) results.push(await runScenario(scenario));
	console.log(JSON.stringify(results));
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
