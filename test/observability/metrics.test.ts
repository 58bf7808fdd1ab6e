// GET /metrics, read by a real Prometheus text-format parser, after a scripted scenario on a real
// server: the counters move as a user of the service would expect, and with auth the endpoint
// answers only operators and the scraper's Metrics:Token.
import { connect } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { OrderEvent } from "../../src/domain/events.js";
import { createPrometheusMetrics } from "../../src/observability/prometheus.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { bearer, OPERATOR } from "../auth/contract.js";
import { TestOidcProvider } from "../support/oidc-provider.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type Samples, sample, scrape } from "../support/prometheus.js";
import { type RunningServer, startServer } from "../support/server.js";
import { RecordingEventSource } from "../support/sse-client.js";

let server: RunningServer | undefined;
const clients: RecordingEventSource[] = [];
afterEach(async () => {
	for (const c of clients.splice(0)) c.close();
	await server?.close();
	server = undefined;
});

function subscribe(path: string, headers: Record<string, string> = {}): RecordingEventSource {
	const es = new RecordingEventSource(`${server?.baseUrl}${path}`, { headers });
	clients.push(es);
	return es;
}

const metric = async (key: string): Promise<number> => sample(await scrape(server?.baseUrl as string), key);

describe("/metrics", () => {
	it("counts requests, changes by outcome, queue lag, store calls, events, replays and disconnects by reason", async () => {
		const metrics = createPrometheusMetrics({ processMetrics: false });
		server = await startServer({
			metrics,
			hub: { maxSubscribers: 3, maxBufferedBytes: 64 * 1024, coalesceMs: 0, historySize: 100 },
		});
		const base = server.baseUrl;
		const live = subscribe("/orderHub");
		await live.opened();

		const order = await createOrder(base, { customerName: "Ann", productName: "Tea" });
		expect((await putStatus(base, order.orderId, "Shipped")).status).toBe(202);
		await vi.waitFor(() => expect(live.of("ReceiveOrderUpdate")).toHaveLength(1));
		// A message no one can apply, from another producer: dead-lettered with its reason.
		(server.queue as InProcessStatusQueue).sendRaw("poison-1", "not a status message");
		await vi.waitFor(async () =>
			expect(
				await metric("order_status_changes_total{outcome=dead_lettered,reason=UnparseableMessage}"),
			).toBe(1),
		);
		// Reconnections: one replays what it missed, one with an id from elsewhere must refetch.
		const resumed = subscribe("/orderHub", { "Last-Event-ID": live.of("OrderCreated")[0]?.id as string });
		await vi.waitFor(() => expect(resumed.of("ReceiveOrderUpdate")).toHaveLength(1));
		const lost = subscribe("/orderHub", { "Last-Event-ID": "someoneelse-7" });
		await vi.waitFor(() => expect(lost.of("reset")).toHaveLength(1));
		// The cap is 3: a fourth stream is refused.
		expect((await fetch(`${base}/orderHub`)).status).toBe(503);

		let m: Samples = await scrape(base);
		expect(
			sample(m, "http_request_duration_seconds_count{method=POST,route=/api/orders/create,status=201}"),
		).toBe(1);
		expect(
			sample(
				m,
				"http_request_duration_seconds_count{method=PUT,route=/api/orders/update-status/{orderId},status=202}",
			),
		).toBe(1);
		expect(sample(m, "http_request_duration_seconds_count{method=GET,route=/orderHub,status=503}")).toBe(1);
		expect(sample(m, "order_status_changes_total{outcome=applied}")).toBe(1);
		expect(sample(m, "order_status_change_lag_seconds_count")).toBe(1);
		expect(sample(m, "order_store_call_duration_seconds_count{operation=create,outcome=ok}")).toBe(1);
		expect(sample(m, "order_store_call_duration_seconds_count{operation=commitChange,outcome=ok}")).toBe(1);
		expect(sample(m, "order_events_published_total{type=OrderCreated}")).toBe(1);
		expect(sample(m, "order_events_published_total{type=ReceiveOrderUpdate}")).toBe(1);
		expect(sample(m, "orderhub_events_delivered_total")).toBe(3); // two live, one replayed
		expect(sample(m, "orderhub_replays_total{outcome=replayed}")).toBe(1);
		expect(sample(m, "orderhub_replays_total{outcome=reset}")).toBe(1);
		expect(sample(m, "orderhub_disconnects_total{reason=over_cap}")).toBe(1);
		expect(sample(m, "orderhub_subscribers")).toBe(3);
		expect(sample(m, "order_queue_receiver_state{state=receiving}")).toBe(1);

		// A client that leaves; then one that stops reading is cut off as too slow.
		lost.close();
		await vi.waitFor(async () =>
			expect(await metric("orderhub_disconnects_total{reason=client_gone}")).toBe(1),
		);
		const stalled = connect(Number(new URL(base).port), "127.0.0.1");
		await new Promise<void>((r) => stalled.on("connect", () => r()));
		stalled.write("GET /orderHub HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(3));
		stalled.pause();
		const padding = "x".repeat(2000);
		const deadline = Date.now() + 15_000;
		for (let i = 0; server.hub.stats().slowDisconnects === 0 && Date.now() < deadline; i++) {
			for (let j = 0; j < 20; j++) {
				const event: OrderEvent = {
					type: "OrderCreated",
					order: { ...order, orderId: `pad-${i}-${j}`, productName: padding },
				};
				server.hub.publish(event);
			}
			await new Promise((r) => setTimeout(r, 1));
		}
		stalled.destroy();
		m = await scrape(base);
		expect(sample(m, "orderhub_disconnects_total{reason=too_slow}")).toBe(1);
		expect(sample(m, "orderhub_subscribers")).toBe(2);

		// Shutting down ends the rest, counted as such.
		server.hub.close();
		m = await scrape(base);
		expect(sample(m, "orderhub_disconnects_total{reason=shutdown}")).toBe(2);
		// Each stream counted once, by the reason that ended it first.
		expect(sample(m, "orderhub_disconnects_total{reason=client_gone}")).toBe(1);
		expect(sample(m, "orderhub_disconnects_total{reason=too_slow}")).toBe(1);
	});

	it("counts each abandoned delivery of a message that hits a defect, then its dead-lettering by the queue", async () => {
		const metrics = createPrometheusMetrics({ processMetrics: false });
		// A defect (not an outage) in storage code, for one order only.
		class DefectiveStore extends MemoryOrderStore {
			override load(orderId: string) {
				if (orderId === "defective") throw new TypeError("x is not a function");
				return super.load(orderId);
			}
		}
		const queue = new InProcessStatusQueue({ retryDelayMs: 5, maxDeliveryCount: 3, metrics });
		server = await startServer({ metrics, queue, store: new DefectiveStore() });
		queue.sendRaw("defect-1", { orderId: "defective", status: "Shipped" });
		await vi.waitFor(async () =>
			expect(
				await metric("order_status_changes_total{outcome=dead_lettered,reason=MaxDeliveryCountExceeded}"),
			).toBe(1),
		);
		expect(await metric("order_status_changes_total{outcome=abandoned,reason=defect}")).toBe(3);
		expect(queue.deadLetters.map((d) => d.messageId)).toEqual(["defect-1"]);
	});

	it("with auth: 401 without a token, 403 without Orders.ReadAll, 200 for an operator or the Metrics:Token", async () => {
		const idp = await TestOidcProvider.start();
		try {
			const token = "scraper-secret-0123456789abcdef0123456789";
			server = await startServer({
				metrics: createPrometheusMetrics({ processMetrics: false }),
				metricsToken: token,
				auth: { verifier: idp.verifier() },
			});
			const get = (headers: Record<string, string> = {}) => fetch(`${server?.baseUrl}/metrics`, { headers });
			const none = await get();
			expect(none.status).toBe(401);
			expect(none.headers.get("content-type")).toMatch(/problem\+json/);
			expect((await get(bearer(await idp.sign("customer", ["Orders.Read"])))).status).toBe(403);
			expect((await get(bearer("scraper-secret-but-not-this-one-0123456789"))).status).toBe(401);
			const operator = await get(bearer(await idp.sign("ops", OPERATOR)));
			expect(operator.status).toBe(200);
			expect(operator.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
			const scraper = await get(bearer(token));
			expect(scraper.status).toBe(200);
			expect(await scraper.text()).toMatch(/^# HELP http_request_duration_seconds/m);
			// The scraper's secret opens /metrics only.
			expect((await fetch(`${server.baseUrl}/api/orders`, { headers: bearer(token) })).status).toBe(401);
		} finally {
			await idp.close();
		}
	});
});
