// SignalR on /orderHub: the real @microsoft/signalr client (Node build, unmodified) against a real
// HTTP server, beside a real EventSource on the same hub; and the protocol's edges with raw HTTP.
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { CONTROL_MESSAGES_PER_MINUTE } from "../../src/hub/signalr.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type Service, startService } from "../support/process.js";
import { RoundRobinProxy } from "../support/round-robin-proxy.js";
import { type RunningServer, startServer } from "../support/server.js";
import { RecordingHubConnection } from "../support/signalr-client.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";

let server: RunningServer | undefined;
const connections: RecordingHubConnection[] = [];
const sources: RecordingEventSource[] = [];
afterEach(async () => {
	await Promise.all(connections.splice(0).map((c) => c.stop()));
	for (const s of sources.splice(0)) s.close();
	await server?.close();
	server = undefined;
});

const base = () => server?.baseUrl as string;

async function connect(
	path = "/orderHub",
	options: ConstructorParameters<typeof RecordingHubConnection>[1] = {},
) {
	const c = new RecordingHubConnection(`${base()}${path}`, options);
	connections.push(c);
	await c.start();
	return c;
}

async function setStatus(orderId: string, status: string) {
	expect((await putStatus(base(), orderId, status)).status).toBe(202);
}

const RS = "\u001e";

/** Reads an SSE response's text until `until` matches it (or 10 s pass). */
async function readUntil(res: Response, until: RegExp): Promise<string> {
	const reader = (res.body as ReadableStream<Uint8Array>).getReader();
	const decoder = new TextDecoder();
	let text = "";
	const deadline = Date.now() + 10_000;
	while (!until.test(text) && Date.now() < deadline) {
		const { done, value } = await reader.read();
		if (done) break;
		text += decoder.decode(value, { stream: true });
	}
	await reader.cancel().catch(() => {});
	return text;
}

describe("SignalR clients on /orderHub", () => {
	it("connects with the client's defaults and with transport ServerSentEvents, and receives what EventSource receives", async () => {
		server = await startServer();
		const plain = new RecordingEventSource(`${base()}/orderHub`);
		sources.push(plain);
		await plain.opened();
		const byDefault = await connect();
		const sse = await connect("/orderHub", { transport: "sse" });
		expect(byDefault.connected && sse.connected).toBe(true);

		const o = await createOrder(base(), { customerName: "Ann", productName: "Tea" });
		await setStatus(o.orderId, "Processing");
		for (const c of [byDefault, sse]) {
			await vi.waitFor(() => expect(c.received).toHaveLength(2), { timeout: 10_000 });
			expect(c.received.map((r) => [r.target, r.order.status])).toEqual([
				["OrderCreated", "Pending"],
				["ReceiveOrderUpdate", "Processing"],
			]);
		}
		await vi.waitFor(() => expect(plain.events).toHaveLength(2));
		// The argument is the very object the EventSource stream carries.
		expect(byDefault.received.map((r) => r.order)).toEqual(plain.events.map((e) => e.data));
		expect(server.hub.subscriberCount).toBe(3);
	});

	it("applies the /orderHub filters given on the hub URL", async () => {
		server = await startServer();
		const a = await createOrder(base(), { customerName: "Ann", productName: "Tea", partitionKey: "EU" });
		const b = await createOrder(base(), { customerName: "Bob", productName: "Cake" });
		const onlyA = await connect(`/orderHub?orderId=${a.orderId}`);
		const eu = await connect("/orderHub?partitionKey=EU");
		const bob = await connect("/orderHub?customerName=Bob");
		await setStatus(a.orderId, "Processing");
		await setStatus(b.orderId, "Shipped");
		const marker = await createOrder(base(), {
			customerName: "Bob",
			productName: "Marker",
			partitionKey: "EU",
		});
		await vi.waitFor(() => expect(eu.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 10_000 });
		await vi.waitFor(() => expect(bob.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 10_000 });
		expect(eu.received.map((r) => r.order.orderId)).toEqual([a.orderId, marker.orderId]);
		expect(bob.received.map((r) => r.order.orderId)).toEqual([b.orderId, marker.orderId]);
		await vi.waitFor(() => expect(onlyA.statusesOf(a.orderId)).toEqual(["Processing"]));
		expect(onlyA.received).toHaveLength(1);
	});

	it("refuses a server-method invocation with an error and stays connected; a send without reply is ignored", async () => {
		server = await startServer();
		const c = await connect();
		await expect(c.connection.invoke("Broadcast", { orderId: "x", status: "Shipped" })).rejects.toThrow(
			/no methods a client may call/,
		);
		await c.connection.send("ReceiveOrderUpdate", { orderId: "forged", status: "Shipped" });
		const other = await connect();
		const o = await createOrder(base(), { customerName: "Ann", productName: "Tea" });
		await vi.waitFor(() => expect(c.statusesOf(o.orderId)).toEqual(["Pending"]), { timeout: 10_000 });
		await vi.waitFor(() => expect(other.statusesOf(o.orderId)).toEqual(["Pending"]), { timeout: 10_000 });
		// Nobody received what the client tried to broadcast.
		expect([...c.received, ...other.received].map((r) => r.order.orderId)).toEqual([o.orderId, o.orderId]);
		expect(c.connected).toBe(true);
		expect(c.closes).toEqual([]);
	});

	it("stop() releases the subscriber on the server", async () => {
		server = await startServer();
		const c = await connect();
		expect(server.hub.subscriberCount).toBe(1);
		await c.stop();
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(0), { timeout: 10_000 });
	});

	it("stays connected through 40 s of silence (pings), then receives the next event", async () => {
		server = await startServer();
		const c = await connect();
		await new Promise((r) => setTimeout(r, 40_000));
		expect(c.closes).toEqual([]);
		expect(c.reconnecting).toEqual([]);
		const o = await createOrder(base(), { customerName: "After", productName: "Silence" });
		await vi.waitFor(() => expect(c.statusesOf(o.orderId)).toEqual(["Pending"]), { timeout: 10_000 });
		expect(c.connected).toBe(true);
	}, 70_000);

	it("reconnects on its own after the server restarts (withAutomaticReconnect) and receives again", async () => {
		server = await startServer();
		const port = Number(new URL(base()).port);
		const c = await connect();
		await server.close(); // tells the client it may reconnect (close message, allowReconnect)
		await vi.waitFor(() => expect(c.reconnecting.length).toBe(1), { timeout: 10_000 });
		server = await startServer({ port });
		await vi.waitFor(() => expect(c.reconnected.length).toBe(1), { timeout: 30_000 });
		const o = await createOrder(base(), { customerName: "Back", productName: "Again" });
		await vi.waitFor(() => expect(c.statusesOf(o.orderId)).toEqual(["Pending"]), { timeout: 10_000 });
		expect(c.closes).toEqual([]);
	}, 60_000);
});

describe("the SignalR protocol over HTTP", () => {
	async function negotiate(query = "negotiateVersion=1") {
		const res = await fetch(`${base()}/orderHub/negotiate?${query}`, { method: "POST" });
		expect(res.status).toBe(200);
		return (await res.json()) as Record<string, unknown>;
	}

	it("negotiates versions 1 and 0 with Server-Sent Events as the only transport", async () => {
		server = await startServer();
		const v1 = await negotiate();
		expect(v1).toMatchObject({
			negotiateVersion: 1,
			connectionId: expect.any(String),
			connectionToken: expect.stringMatching(/^[A-Za-z0-9_.-]+$/),
			availableTransports: [{ transport: "ServerSentEvents", transferFormats: ["Text"] }],
		});
		const v0 = await negotiate("");
		expect(v0.negotiateVersion).toBeUndefined();
		expect(v0.connectionToken).toBeUndefined();
		// A version 0 client sends its connectionId as the id: it must work as the token.
		const stream = await fetch(`${base()}/orderHub?id=${v0.connectionId}`, {
			headers: { accept: "text/event-stream" },
		});
		expect(stream.status).toBe(200);
		expect(await readUntil(stream, new RegExp(`data: \\{\\}${RS}`))).toContain(`data: {}${RS}\n\n`);
	});

	it("answers a bad filter, a forged id, a bad message and another protocol clearly", async () => {
		server = await startServer();
		const bad = await fetch(`${base()}/orderHub/negotiate?orderId=a/b`, { method: "POST" });
		expect(bad.status).toBe(400);
		expect(bad.headers.get("content-type")).toContain("application/problem+json");
		// Filters a stream's token could not carry are refused at negotiate, not at the stream.
		const many = Array.from({ length: 90 }, () => `orderId=${crypto.randomUUID()}`).join("&");
		const tooLong = await fetch(`${base()}/orderHub/negotiate?negotiateVersion=1&${many}`, {
			method: "POST",
		});
		expect(tooLong.status).toBe(400);
		expect(((await tooLong.json()) as { detail: string }).detail).toMatch(/filters are too long/);
		const fewer = Array.from({ length: 20 }, () => `orderId=${crypto.randomUUID()}`).join("&");
		const fine = await negotiate(`negotiateVersion=1&${fewer}`);
		const fineStream = await fetch(`${base()}/orderHub?id=${fine.connectionToken}`);
		expect(fineStream.status).toBe(200);
		await fineStream.body?.cancel();

		const { connectionToken } = await negotiate();
		const forged = `${String(connectionToken).slice(0, -2)}AA`;
		expect((await fetch(`${base()}/orderHub?id=${forged}`)).status).toBe(404);
		const post = (body: string, id = String(connectionToken)) =>
			fetch(`${base()}/orderHub?id=${id}`, {
				method: "POST",
				body,
				headers: { "content-type": "text/plain" },
			});
		expect((await post(`{"type":6}${RS}`, forged)).status).toBe(404);
		const garbage = await post("not json");
		expect(garbage.status).toBe(400);
		expect(((await garbage.json()) as { detail: string }).detail).toMatch(/record separator/);
		expect((await post(`{"type":6${RS}`)).status).toBe(400);

		const stream = await fetch(`${base()}/orderHub?id=${connectionToken}`);
		expect(stream.status).toBe(200);
		expect((await fetch(`${base()}/orderHub?id=${connectionToken}`)).status).toBe(409); // one stream per connection
		expect((await post(`{"protocol":"messagepack","version":1}${RS}`)).status).toBe(200);
		const text = await readUntil(stream, /"error"/);
		expect(text).toContain(`data: {}${RS}\n\n`);
		expect(text).toMatch(/data: \{"error":"The protocol 'messagepack' version 1 is not supported/);
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(0));
	});

	it("answers every invocation of one POST, at most 100, and lets a cross-origin frontend send the client's headers", async () => {
		server = await startServer();
		const { connectionToken } = await negotiate();
		const stream = await fetch(`${base()}/orderHub?id=${connectionToken}`);
		const invocations = (n: number) =>
			Array.from(
				{ length: n },
				(_, i) => `{"type":1,"invocationId":"${i}","target":"X","arguments":[]}${RS}`,
			).join("");
		const post = (body: string) =>
			fetch(`${base()}/orderHub?id=${connectionToken}`, { method: "POST", body });
		const tooMany = await post(invocations(101));
		expect(tooMany.status).toBe(400);
		expect(((await tooMany.json()) as { detail: string }).detail).toMatch(/At most 100 invocations/);
		expect((await post(invocations(3))).status).toBe(200);
		const text = await readUntil(stream, /"invocationId":"2"/);
		expect(text.match(/"type":3/g)).toHaveLength(3);
		expect(server.hub.subscriberCount).toBe(1); // still connected

		const preflight = await fetch(`${base()}/orderHub/negotiate`, {
			method: "OPTIONS",
			headers: {
				Origin: "http://localhost:3000",
				"Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "x-requested-with,x-signalr-user-agent",
			},
		});
		expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
		expect(preflight.headers.get("access-control-allow-headers")).toMatch(/X-Requested-With/);
		expect(preflight.headers.get("access-control-allow-headers")).toMatch(/X-SignalR-User-Agent/);
	});

	it("takes a stray access_token off any other request, which is served as without it", async () => {
		server = await startServer();
		const created = await fetch(`${base()}/api/orders/create?access_token=abc`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ customerName: "Body", productName: "Kept" }),
		});
		expect(created.status).toBe(201);
		expect(await created.json()).toMatchObject({ customerName: "Body", productName: "Kept" });
		const listed = await fetch(`${base()}/api/orders?customerName=Body&access_token=abc`);
		expect(((await listed.json()) as unknown[]).length).toBe(1);
	});

	it("bounds what one caller sends to other instances; requests for a stream held here are not charged", async () => {
		// A control channel that counts what it is given to carry to the other instances.
		let carried = 0;
		server = await startServer({
			signalR: {
				control: {
					send: async () => {
						carried++;
					},
					listen: () => {},
				},
			},
		});
		// Negotiated, never opened here: each POST's refused invocation is a control message for
		// whichever instance holds the stream.
		const elsewhere = await negotiate();
		const invoke = (token: unknown, i: number) =>
			fetch(`${base()}/orderHub?id=${token}`, {
				method: "POST",
				body: `{"type":1,"invocationId":"${i}","target":"X","arguments":[]}${RS}`,
			});
		let refused: Response | undefined;
		let sent = 0;
		// The bucket refills 2 a second: on a slow machine it takes more requests to empty.
		for (; sent < CONTROL_MESSAGES_PER_MINUTE * 10 && !refused; sent++) {
			const res = await invoke(elsewhere.connectionToken, sent);
			if (res.status !== 200) refused = res;
		}
		if (!refused) throw new Error(`${sent} requests, none refused`);
		expect(refused.status).toBe(429);
		expect(sent).toBeGreaterThanOrEqual(CONTROL_MESSAGES_PER_MINUTE);
		expect(carried).toBe(sent - 1);
		expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
		expect(refused.headers.get("retry-after")).toBe("1");
		expect(((await refused.json()) as { detail: string }).detail).toMatch(
			new RegExp(`at most ${CONTROL_MESSAGES_PER_MINUTE} a minute per caller`),
		);

		// The same caller's stream held by this instance is answered as ever.
		const here = await negotiate();
		const stream = await fetch(`${base()}/orderHub?id=${here.connectionToken}`);
		expect((await invoke(here.connectionToken, 7)).status).toBe(200);
		expect(await readUntil(stream, /"invocationId":"7"/)).toMatch(/"type":3,"invocationId":"7"/);
		expect(carried).toBe(sent - 1);
	});

	it("ends the connection on DELETE", async () => {
		server = await startServer();
		const { connectionToken } = await negotiate();
		const stream = await fetch(`${base()}/orderHub?id=${connectionToken}`);
		expect(server.hub.subscriberCount).toBe(1);
		expect((await fetch(`${base()}/orderHub?id=${connectionToken}`, { method: "DELETE" })).status).toBe(202);
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(0));
		await stream.body?.cancel();
	});
});

describe("SignalR on the service as npm start runs it", () => {
	it("connects, receives, and reconnects after the process restarts (its event log and token secret in Table Storage)", async () => {
		const env = {
			TableStorage__ConnectionString: inject("azuriteConnectionString"),
			TableStorage__TableName: uniqueTableName("G"),
		};
		let service: Service = await startService(env);
		// A proxy in front, so the client's URL survives the restart (the service takes a free port).
		const proxy = await RoundRobinProxy.start([service.baseUrl]);
		const c = new RecordingHubConnection(`${proxy.baseUrl}/orderHub`);
		try {
			await c.start();
			const o = await createOrder(service.baseUrl, { customerName: "Npm", productName: "Start" });
			expect((await putStatus(service.baseUrl, o.orderId, "Shipped")).status).toBe(202);
			await vi.waitFor(() => expect(c.statusesOf(o.orderId)).toEqual(["Pending", "Shipped"]), {
				timeout: 15_000,
			});

			service.child.kill("SIGTERM");
			await service.exited;
			await vi.waitFor(() => expect(c.reconnecting).toHaveLength(1), { timeout: 10_000 });
			service = await startService(env);
			proxy.setBackends([service.baseUrl]);
			await vi.waitFor(() => expect(c.reconnected).toHaveLength(1), { timeout: 60_000, interval: 200 });
			const after = await createOrder(service.baseUrl, { customerName: "Npm", productName: "Again" });
			await vi.waitFor(() => expect(c.statusesOf(after.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
			expect(c.closes).toEqual([]);
		} finally {
			await c.stop();
			await proxy.close();
			service.child.kill("SIGTERM");
			await service.exited;
		}
	}, 120_000);
});
