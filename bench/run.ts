// `npm run bench` (full, several minutes) or `npm run bench -- --quick` (under 90 s; smaller shapes,
// without the calls, transactions, telemetry, scale, scaleout and workers sections): runs the benchmarks, prints Markdown
// tables and writes bench/results/latest.json (quick: quick.json; `--only=rest,workers`:
// bench/results/only-rest-workers.json). Not part of `npm test`. The tables in docs/performance.md are
// copied from its output.
// Every server, broker and load generator is its own process; all share this 2-core machine.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { authTable, benchAuth } from "./auth.js";
import { benchE2e, e2eTable } from "./e2e.js";
import { benchHub, benchHubSignalR, hubSignalRTable, hubTable } from "./hub.js";
import { benchRest, restTable } from "./rest.js";
import { benchScaleout, scaleoutTable } from "./scaleout.js";
import { benchStorageCalls, callsTable } from "./storage-calls.js";
import { benchStorageScale, scaleTable } from "./storage-scale.js";
import { benchTelemetry, telemetryTable } from "./telemetry.js";
import { benchTransactions, transactionsTable } from "./transactions.js";
import { benchWorkers, workersTable } from "./workers.js";

const quick = process.argv.includes("--quick");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const machine = {
	cpus: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
	memoryGiB: Math.round(totalmem() / 2 ** 30),
	node: process.version,
	note: "servers, Azurite, the broker and the load generators are separate processes on the same machine",
};
const started = Date.now();
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), quick, machine };
/** Sections the quick run leaves to the full run (or to --only): slow to set up, or slow to fill. */
const NOT_QUICK = ["calls", "transactions", "telemetry", "scale", "scaleout", "workers"];
/** Seconds each section took (the quick run has a time budget). */
const sectionSeconds: Record<string, number> = {};
let sectionStarted = Date.now();
const run = (name: string) => {
	const yes = only === undefined ? !(quick && NOT_QUICK.includes(name)) : only.split(",").includes(name);
	if (yes) sectionStarted = Date.now();
	return yes;
};
const took = (name: string) => {
	sectionSeconds[name] = Math.round((Date.now() - sectionStarted) / 1000);
};

if (run("rest")) {
	const rest = await benchRest(quick);
	results.rest = rest;
	console.log(`\n${restTable(rest)}\n`);
	took("rest");
}
if (run("auth")) {
	const auth = await benchAuth(quick);
	results.auth = auth;
	console.log(`\n${authTable(auth)}\n`);
	took("auth");
}
if (run("telemetry")) {
	// The build before #16 only when asked for by name (see benchTelemetry).
	const telemetry = await benchTelemetry(quick, only !== undefined);
	results.telemetry = telemetry;
	console.log(`\n${telemetryTable(telemetry)}\n`);
	took("telemetry");
}
if (run("calls")) {
	const calls = await benchStorageCalls(quick);
	results.storageCalls = calls;
	console.log(`\n${callsTable(calls)}\n`);
	took("calls");
}
if (run("transactions")) {
	const transactions = await benchTransactions(quick);
	results.transactions = transactions;
	console.log(`\n${transactionsTable(transactions)}\n`);
	took("transactions");
}
if (run("scale")) {
	const scale = await benchStorageScale(quick);
	results.storageScale = scale;
	console.log(`\n${scaleTable(scale)}\n`);
	took("scale");
}
if (run("e2e")) {
	const e2e = await benchE2e(quick);
	results.endToEnd = e2e;
	console.log(`\n${e2eTable(e2e)}\n`);
	took("e2e");
}
if (run("scaleout")) {
	const scaleout = await benchScaleout(quick);
	results.scaleout = scaleout;
	console.log(`\n${scaleoutTable(scaleout)}\n`);
	took("scaleout");
}
if (run("hub")) {
	const hub = await benchHub(quick ? 2000 : 15_000, quick ? 3 : 5);
	results.hub = hub;
	console.log(`\n${hubTable(hub)}\n`);
	const signalR = await benchHubSignalR(quick ? 1000 : 5000, quick ? 3 : 5);
	results.hubSignalR = signalR;
	console.log(`\n${hubSignalRTable(signalR)}\n`);
	took("hub");
}

if (run("workers")) {
	const workers = await benchWorkers(quick);
	results.workers = workers;
	console.log(`\n${workersTable(workers)}\n`);
	took("workers");
}

console.log(`machine: ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}; ${machine.note}`);
results.sectionSeconds = sectionSeconds;
console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s (${JSON.stringify(sectionSeconds)})`);
mkdirSync("bench/results", { recursive: true });
// A partial run (--only) or a quick one does not replace the full run's figures.
const file =
	only !== undefined
		? `bench/results/only-${only.replace(/,/g, "-")}.json`
		: quick
			? "bench/results/quick.json"
			: "bench/results/latest.json";
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${file}`);
