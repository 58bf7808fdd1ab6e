// `npm run bench` (full) or `npm run bench -- --quick` (under a minute): runs every benchmark,
// prints a Markdown table and writes bench/results/latest.json. Not part of `npm test`.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { benchHub, hubTable } from "./hub.js";

const quick = process.argv.includes("--quick");
const machine = {
	cpus: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
	memoryGiB: Math.round(totalmem() / 2 ** 30),
	node: process.version,
	note: "server and load generator are separate processes on the same 2-core machine",
};

const startedAt = new Date().toISOString();
const hub = await benchHub(quick ? 2000 : 15_000, quick ? 3 : 5);
const table = hubTable(hub);
console.log(`\n${table}\n`);
console.log(`machine: ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}; ${machine.note}`);

mkdirSync("bench/results", { recursive: true });
writeFileSync(
	"bench/results/latest.json",
	`${JSON.stringify({ startedAt, quick, machine, hub }, null, 2)}\n`,
);
console.log("wrote bench/results/latest.json");
