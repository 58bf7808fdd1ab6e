// SignalR clients with Auth:Mode Jwt: the real @microsoft/signalr client (accessTokenFactory: a
// bearer header on negotiate and the POSTs, `access_token` on the stream URL) and the session
// cookie; owner scoping, the per-caller cap and the end at token expiry as for EventSource; and,
// on the service as `npm start` runs it with traces and metrics on, the token never in a log
// line, a span or /metrics.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { AUDIENCE, TestOidcProvider } from "../support/oidc-provider.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";
import { type Service, startService } from "../support/process.js";
import { type RunningServer, startServer } from "../support/server.js";
import { RecordingHubConnection } from "../support/signalr-client.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";
import { authClient, bearer, CUSTOMER, OPERATOR } from "./contract.js";

let idp: TestOidcProvider;
let server: RunningServer;
const connections: RecordingHubConnection[] = [];

beforeAll(async () => {
	idp = await TestOidcProvider.start();
	// A short clock tolerance, so that streams of short-lived tokens end within a test's time.
	const verifier = idp.verifier({ jwksCooldownMs: 0, clockToleranceSeconds: 8 });
	server = await startServer({ auth: { verifier, maxSubscribersPerPrincipal: 2 }, hub: { coalesceMs: 0 } });
});
afterAll(async () => {
	await Promise.all(connections.map((c) => c.stop()));
	await server?.close();
	await idp?.close();
});

const { call, createAs, url } = authClient(() => server.baseUrl);

function hubConnection(
	options: ConstructorParameters<typeof RecordingHubConnection>[1] = {},
	path = "/orderHub",
) {
	const c = new RecordingHubConnection(url(path), options);
	connections.push(c);
	return c;
}

describe("SignalR clients with Auth:Mode Jwt", () => {
	it("streams a customer only their own orders; an operator all", async () => {
		const alice = await idp.sign("sr-alice", CUSTOMER);
		const bob = await idp.sign("sr-bob", CUSTOMER);
		const operator = await idp.sign("sr-ops", OPERATOR);
		const aliceHub = hubConnection({ accessTokenFactory: () => alice });
		const opsHub = hubConnection({ accessTokenFactory: () => operator, transport: "sse" });
		await Promise.all([aliceHub.start(), opsHub.start()]);
		const a = await createAs(alice, "Alice SR");
		const b = await createAs(bob, "Bob SR");
		await call("PUT", `/api/orders/update-status/${b.orderId}`, operator, "Processing");
		await call("PUT", `/api/orders/update-status/${a.orderId}`, operator, "Processing");
		await vi.waitFor(() => expect(opsHub.statusesOf(a.orderId)).toEqual(["Pending", "Processing"]), {
			timeout: 10_000,
		});
		await vi.waitFor(() => expect(aliceHub.statusesOf(a.orderId)).toEqual(["Pending", "Processing"]), {
			timeout: 10_000,
		});
		expect(opsHub.statusesOf(b.orderId)).toEqual(["Pending", "Processing"]);
		expect(aliceHub.received.map((r) => r.order.orderId)).toEqual([a.orderId, a.orderId]);
	});

	it("refuses a client without a token, or with another caller's connection", async () => {
		const anonymous = hubConnection();
		await expect(anonymous.start()).rejects.toThrow(/401/);
		// access_token is taken on the SignalR stream only: not on a plain EventSource, not on the API.
		const alice = await idp.sign("sr-alice2", CUSTOMER);
		expect((await fetch(url(`/orderHub?access_token=${alice}`))).status).toBe(401);
		expect((await fetch(url(`/api/orders?access_token=${alice}`))).status).toBe(401);
		// A connection negotiated by Alice cannot be opened or used by Bob.
		const negotiated = await call("POST", "/orderHub/negotiate?negotiateVersion=1", alice);
		expect(negotiated.status).toBe(200);
		const { connectionToken } = (await negotiated.json()) as { connectionToken: string };
		const bob = await idp.sign("sr-bob2", CUSTOMER);
		const stolen = await fetch(url(`/orderHub?id=${connectionToken}&access_token=${bob}`));
		expect(stolen.status).toBe(403);
		const post = await fetch(url(`/orderHub?id=${connectionToken}`), {
			method: "POST",
			headers: { ...bearer(bob), "content-type": "text/plain" },
			body: '{"type":6}\u001e',
		});
		expect(post.status).toBe(403);
	});

	it("works with the session cookie instead of a token", async () => {
		const carol = await idp.sign("sr-carol", CUSTOMER);
		const session = await call("POST", "/api/auth/session", carol);
		const cookie = (session.headers.get("set-cookie") ?? "").split(";")[0] as string;
		const viaCookie = hubConnection({ headers: { cookie } });
		await viaCookie.start();
		const mine = await createAs(carol, "Carol SR");
		await createAs(await idp.sign("sr-dave", CUSTOMER), "Dave SR");
		const marker = await createAs(carol, "Carol SR marker");
		await vi.waitFor(() => expect(viaCookie.statusesOf(marker.orderId)).toEqual(["Pending"]), {
			timeout: 10_000,
		});
		expect(viaCookie.received.map((r) => r.order.orderId)).toEqual([mine.orderId, marker.orderId]);
	});

	it("counts SignalR streams with EventSource streams toward Hub:MaxSubscribersPerPrincipal", async () => {
		const gina = await idp.sign("sr-gina", CUSTOMER);
		const es = new RecordingEventSource(url("/orderHub"), { headers: bearer(gina) });
		await es.opened();
		const first = hubConnection({ accessTokenFactory: () => gina });
		await first.start();
		const third = hubConnection({ accessTokenFactory: () => gina });
		await expect(third.start()).rejects.toThrow();
		es.close();
		await vi.waitFor(
			async () => {
				const again = hubConnection({ accessTokenFactory: () => gina });
				await again.start();
			},
			{ timeout: 10_000, interval: 200 },
		);
	});

	it("ends the stream when its token expires, and reconnects with the fresh token the factory gives", async () => {
		const tokens = [await idp.sign("sr-frank", CUSTOMER, { expiresIn: 2 })];
		const c = hubConnection({
			accessTokenFactory: () => {
				const last = tokens[tokens.length - 1] as string;
				return last;
			},
		});
		await c.start();
		tokens.push(await idp.sign("sr-frank", CUSTOMER, { expiresIn: 300 }));
		// exp + the 8 s tolerance: the server sends close (allowReconnect) and the client reconnects.
		await vi.waitFor(() => expect(c.reconnected.length).toBe(1), { timeout: 30_000, interval: 200 });
		expect(c.reconnecting).toHaveLength(1);
		const marker = await createAs(tokens[1] as string, "Frank SR");
		await vi.waitFor(() => expect(c.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 10_000 });
	}, 45_000);
});

describe("the access token of a SignalR client, on the service as npm start runs it", () => {
	let service: Service;
	let otlp: OtlpReceiver;
	const METRICS_TOKEN = "metrics-secret-2b7e151628aed2a6abf7158809cf4f3c";

	beforeAll(async () => {
		otlp = await OtlpReceiver.start();
		service = await startService({
			TableStorage__ConnectionString: inject("azuriteConnectionString"),
			TableStorage__TableName: uniqueTableName("Q"),
			Auth__Mode: "Jwt",
			Auth__Authority: idp.issuer,
			Auth__Audience: AUDIENCE,
			Metrics__Token: METRICS_TOKEN,
			Logging__Level: "debug",
			OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
			OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
			OTEL_BSP_SCHEDULE_DELAY: "100",
		});
	}, 60_000);
	afterAll(async () => {
		service?.child.kill("SIGTERM");
		await service?.exited;
		await otlp?.close();
	});

	it("is in no log line, no span and no metric", async () => {
		const token = await idp.sign("sr-secret", CUSTOMER);
		const c = new RecordingHubConnection(`${service.baseUrl}/orderHub`, { accessTokenFactory: () => token });
		await c.start();
		const created = await fetch(`${service.baseUrl}/api/orders/create`, {
			method: "POST",
			headers: { ...bearer(token), "content-type": "application/json" },
			body: JSON.stringify({ customerName: "Secret", productName: "P" }),
		});
		const order = (await created.json()) as { orderId: string };
		await vi.waitFor(() => expect(c.statusesOf(order.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
		// A stray access_token elsewhere is refused and recorded nowhere either.
		expect((await fetch(`${service.baseUrl}/api/orders?access_token=${token}`)).status).toBe(401);
		await c.stop();
		// The stream's server span (it ends when the stream does) is exported, without the token.
		await otlp.waitFor((s) => s.name.startsWith("GET /orderHub"));
		const stream = otlp.spans.find((s) => s.name.startsWith("GET /orderHub"));
		expect(String(stream?.attributes["url.full"])).toMatch(/\/orderHub\?id=/);
		const metrics = await (
			await fetch(`${service.baseUrl}/metrics`, { headers: bearer(METRICS_TOKEN) })
		).text();
		const signature = token.split(".")[2] as string;
		const everything = [service.output(), JSON.stringify(otlp.spans), metrics].join("\n");
		expect(everything).toContain("/orderHub"); // the requests were recorded…
		expect(everything).not.toContain(signature); // …without the token
		expect(everything).not.toContain("access_token");
	}, 60_000);
});
