// The OpenAPI document a running server serves at /doc, as client generators (openapi-typescript,
// NSwag, Kiota) read it: it passes `redocly lint` (rules switched off are named in redocly.yaml),
// every operation has its stable operationId, and the Workers app (remote hub) documents the same.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { createPrometheusMetrics } from "../../src/observability/prometheus.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { repoRoot, runNode, tempDir } from "../support/openapi.js";
import { type RunningServer, startServer } from "../support/server.js";

type Operation = {
	operationId?: string;
	parameters?: unknown[];
	requestBody?: unknown;
	responses: Record<string, unknown>;
};
type Document = { paths: Record<string, Record<string, Operation>> } & Record<string, unknown>;

const OPERATION_IDS: Record<string, string> = {
	"POST /api/orders/create": "createOrder",
	"GET /api/orders": "listOrders",
	"GET /api/orders/{orderId}": "getOrder",
	"GET /api/orders/{orderId}/history": "getOrderHistory",
	"PUT /api/orders/update-status/{orderId}": "updateOrderStatus",
	"GET /orderHub": "subscribeOrderEvents",
	"POST /orderHub/negotiate": "negotiateSignalR",
	"POST /orderHub": "sendSignalRMessages",
	"DELETE /orderHub": "endSignalRConnection",
	"GET /orderHub/stats": "getHubStats",
	"GET /health/live": "getLiveness",
	"GET /health/ready": "getReadiness",
	"GET /metrics": "getMetrics",
};

const operations = (doc: Document) =>
	Object.entries(doc.paths).flatMap(([path, item]) =>
		Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
	);

let server: RunningServer;
let doc: Document;
const dir = tempDir("openapi-lint");
beforeAll(async () => {
	// As `npm start` serves it: /metrics included.
	server = await startServer({ metrics: createPrometheusMetrics({ processMetrics: false }) });
	doc = (await (await fetch(`${server.baseUrl}/doc`)).json()) as Document;
});
afterAll(async () => {
	await server?.close();
	dir.remove();
});

describe("the served OpenAPI document", () => {
	it("passes redocly lint with the repository's redocly.yaml", async () => {
		const file = join(dir.path, "openapi.json");
		writeFileSync(file, JSON.stringify(doc, null, 2));
		const cli = join(repoRoot, "node_modules/@redocly/cli/bin/cli.js");
		const config = join(repoRoot, "redocly.yaml");
		const run = await runNode(cli, ["lint", file, "--format=json", `--config=${config}`], {
			cwd: dir.path,
			env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
		});
		const report = JSON.parse(run.stdout) as {
			totals: { errors: number; warnings: number };
			problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
		};
		const problems = report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
		expect(problems).toEqual([]); // warnings too: a rule that does not apply is switched off, with its reason
		expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
		expect(run.code).toBe(0);
	});

	it("gives every operation its stable operationId", () => {
		const ids = Object.fromEntries(operations(doc).map(({ key, op }) => [key, op.operationId]));
		expect(ids).toEqual(OPERATION_IDS);
	});

	it("documents a 400 problem on every operation that takes input (operation-4xx-response is off)", () => {
		const withInput = operations(doc).filter(({ op }) => op.requestBody || op.parameters?.length);
		expect(withInput.map(({ key }) => key).sort()).toEqual(
			Object.keys(OPERATION_IDS)
				.filter(
					(k) =>
						!["GET /health/live", "GET /health/ready", "GET /orderHub/stats", "GET /metrics"].includes(k),
				)
				.sort(),
		);
		for (const { key, op } of withInput) expect(Object.keys(op.responses), key).toContain("400");
	});

	it("declares the bearer and cookie schemes and each operation's requirement (open: health, docs)", () => {
		const schemes = (doc.components as { securitySchemes?: Record<string, Record<string, string>> })
			.securitySchemes;
		expect(schemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
		expect(schemes?.sessionCookie).toMatchObject({
			type: "apiKey",
			in: "cookie",
			name: "order_tracker_session",
		});
		const security = Object.fromEntries(
			operations(doc).map(({ key, op }) => [key, (op as { security?: unknown }).security ?? "open"]),
		);
		expect(security["POST /api/orders/create"]).toEqual([{ bearerAuth: [] }]);
		expect(security["PUT /api/orders/update-status/{orderId}"]).toEqual([{ bearerAuth: [] }]);
		expect(security["GET /orderHub"]).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }]);
		expect(security["GET /health/live"]).toBe("open");
		expect(security["GET /health/ready"]).toBe("open");
		expect(security["GET /metrics"]).toEqual([{ bearerAuth: [] }]); // with auth: ReadAll or Metrics:Token
	});

	it("states what holds for any deployment: a relative server, described tags", () => {
		expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
		expect(doc.security).toEqual([]);
		const tags = doc.tags as { name: string; description: string }[];
		expect(tags.map((t) => t.name).sort()).toEqual(["Events", "Health", "Orders"]);
		for (const t of tags) expect(t.description.length).toBeGreaterThan(0);
	});

	it("documents /orderHub's filters and the Last-Event-ID header as a text/event-stream", () => {
		const hub = doc.paths["/orderHub"]?.get as unknown as {
			parameters: { name: string; in: string }[];
			responses: Record<string, { content: Record<string, unknown> }>;
		};
		expect(hub.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
			"query:orderId",
			"query:partitionKey",
			"query:customerName",
			"query:id",
			"query:lastEventId",
			"header:last-event-id",
		]);
		expect(Object.keys(hub.responses["200"]?.content ?? {})).toEqual(["text/event-stream"]);
	});

	it("is the same document when the hub is remote (the Workers build), but for /metrics (Node only)", async () => {
		const app = createApp({
			store: new MemoryOrderStore(),
			queue: new InProcessStatusQueue(),
			events: { publish() {} },
			remoteHub: {
				fetch: async () => new Response(null, { status: 204 }),
				stats: () => {
					throw new Error("not called");
				},
			},
			corsOrigins: [],
		});
		const { "/metrics": metrics, ...paths } = doc.paths;
		expect(metrics).toBeDefined();
		expect(await (await app.request("/doc")).json()).toEqual({ ...doc, paths });
	});
});
