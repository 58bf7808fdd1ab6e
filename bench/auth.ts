// Auth's cost: the same server (memory store) with Auth:Mode None and with Auth:Mode Jwt (every
// request carrying a bearer token, verified against the provider's JWKS), in the same run.
import { fmt, startNode } from "./lib.js";
import { loadScenarios, type RestResult } from "./rest.js";

const OFF = "order-tracker, memory, auth off";
const ON = "order-tracker, memory, Auth:Mode Jwt";

export async function benchAuth(quick: boolean): Promise<RestResult[]> {
	const opts = { seconds: quick ? 1 : 5, connections: 20, updates: 0, seed: quick ? 200 : 1000 };
	const idp = startNode("bench/servers/oidc.ts");
	try {
		const { issuer, audience, token } = (await idp.first) as {
			issuer: string;
			audience: string;
			token: string;
		};
		const results: RestResult[] = [];
		for (const [target, env, loadEnv] of [
			[OFF, {}, {}],
			[ON, { BENCH_AUTH_AUTHORITY: issuer, BENCH_AUTH_AUDIENCE: audience }, { BENCH_TOKEN: token }],
		] as const) {
			const server = startNode("bench/servers/app.ts", [], env);
			try {
				const { port } = (await server.first) as { port: number };
				const before = process.env.BENCH_TOKEN;
				if ("BENCH_TOKEN" in loadEnv) process.env.BENCH_TOKEN = loadEnv.BENCH_TOKEN;
				else delete process.env.BENCH_TOKEN;
				try {
					results.push(...(await loadScenarios(target, `http://127.0.0.1:${port}`, ["get", "create"], opts)));
				} finally {
					if (before === undefined) delete process.env.BENCH_TOKEN;
					else process.env.BENCH_TOKEN = before;
				}
			} finally {
				await server.stop();
			}
		}
		// The ratio the table prints, as a field.
		return results.map((r) => {
			const off = results.find((o) => o.target === OFF && o.scenario === r.scenario);
			return off && r.target === ON ? { ...r, ofAuthOff: r.rps / off.rps } : r;
		});
	} finally {
		await idp.stop();
	}
}

export function authTable(results: (RestResult & { ofAuthOff?: number })[]): string {
	return [
		"| auth | server | req/s | of auth off | p50 ms | p99 ms |",
		"|---|---|---|---|---|---|",
		...results.map(
			(r) =>
				`| ${r.scenario} | ${r.target} | ${fmt(r.rps, 0)} | ${r.ofAuthOff === undefined ? "" : fmt(r.ofAuthOff, 2)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} |`,
		),
	].join("\n");
}
