// Auth:Mode Jwt against an OpenID provider of the tests' own (real keys, real signed tokens), on a
// real HTTP server with real EventSource clients: who may call which route, whose orders they see
// (REST and /orderHub, live and replayed), the session cookie, key rotation, expiry mid-stream.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TestOidcProvider } from "../support/oidc-provider.js";
import { type RunningServer, startServer } from "../support/server.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { authClient, authContract, bearer, CUSTOMER, OPERATOR } from "./contract.js";

let idp: TestOidcProvider;
let server: RunningServer;
const clients: RecordingEventSource[] = [];

beforeAll(async () => {
	idp = await TestOidcProvider.start();
	// A short clock tolerance, so that streams of short-lived tokens end within a test's time.
	const verifier = idp.verifier({ jwksCooldownMs: 0, clockToleranceSeconds: 8 });
	server = await startServer({ auth: { verifier, maxSubscribersPerPrincipal: 2 }, hub: { coalesceMs: 0 } });
});
afterAll(async () => {
	for (const c of clients) c.close();
	await server?.close();
	await idp?.close();
});

const { call, createAs, url } = authClient(() => server.baseUrl);

function stream(token: string | undefined, path = "/orderHub", headers: Record<string, string> = {}) {
	const c = new RecordingEventSource(url(path), { headers: { ...bearer(token), ...headers } });
	clients.push(c);
	return c;
}

describe("Auth:Mode Jwt on Node", () => {
	authContract(() => ({ baseUrl: server.baseUrl, idp }));

	it("streams a customer only their own orders' events, live and replayed; an operator all", async () => {
		const alice = await idp.sign("alice-3", CUSTOMER);
		const bob = await idp.sign("bob-3", CUSTOMER);
		const operator = await idp.sign("ops-3", OPERATOR);
		const aliceStream = stream(alice);
		const opsStream = stream(operator);
		await Promise.all([aliceStream.opened(), opsStream.opened()]);
		const a = await createAs(alice, "Alice Three");
		const b = await createAs(bob, "Bob Three");
		await call("PUT", `/api/orders/update-status/${b.orderId}`, operator, "Processing");
		await call("PUT", `/api/orders/update-status/${a.orderId}`, operator, "Processing");
		await vi.waitFor(() =>
			expect(opsStream.events.filter((e) => e.data.orderId === a.orderId)).toHaveLength(2),
		);
		await vi.waitFor(() => expect(aliceStream.events).toHaveLength(2));
		expect(aliceStream.events.map((e) => [e.data.orderId, e.data.status])).toEqual([
			[a.orderId, "Pending"],
			[a.orderId, "Processing"],
		]);
		expect(opsStream.events.some((e) => e.data.orderId === b.orderId)).toBe(true);
		// Replay from before everything: still only hers.
		const first = aliceStream.events[0]?.id as string;
		const firstSeq = Number(first.split("-")[1]);
		const before = `${first.split("-")[0]}-${firstSeq - 1}`;
		const replayed = stream(alice, "/orderHub", { "Last-Event-ID": before });
		const marker = await createAs(alice, "Alice marker");
		await vi.waitFor(() => expect(replayed.events.some((e) => e.data.orderId === marker.orderId)).toBe(true));
		expect(replayed.events.every((e) => [a.orderId, marker.orderId].includes(e.data.orderId as string))).toBe(
			true,
		);
		expect(replayed.events.filter((e) => e.data.orderId === a.orderId)).toHaveLength(2);
		for (const c of [aliceStream, opsStream, replayed]) c.close();
	});

	it("gives a page a session cookie for EventSource (HttpOnly, SameSite=Lax), scoped like the token; DELETE ends it", async () => {
		const carol = await idp.sign("carol", CUSTOMER);
		const res = await call("POST", "/api/auth/session", carol);
		expect(res.status).toBe(204);
		const cookie = res.headers.get("set-cookie") ?? "";
		expect(cookie).toMatch(/^order_tracker_session=/);
		expect(cookie).toMatch(/HttpOnly/i);
		expect(cookie).toMatch(/SameSite=Lax/i);
		expect(cookie).toMatch(/Max-Age=\d+/);
		const sessionCookie = cookie.split(";")[0] as string;
		const viaCookie = stream(undefined, "/orderHub", { cookie: sessionCookie });
		await viaCookie.opened();
		const mine = await createAs(carol, "Carol");
		await createAs(await idp.sign("dave", CUSTOMER), "Dave");
		const marker = await createAs(carol, "Carol marker");
		await vi.waitFor(() =>
			expect(viaCookie.events.some((e) => e.data.orderId === marker.orderId)).toBe(true),
		);
		expect(viaCookie.events.map((e) => e.data.orderId)).toEqual([mine.orderId, marker.orderId]);
		viaCookie.close();
		// The cookie does not authorise changes (a browser sends it on its own).
		const put = await fetch(url(`/api/orders/update-status/${mine.orderId}`), {
			method: "PUT",
			headers: { cookie: sessionCookie, "content-type": "application/json" },
			body: '"Cancelled"',
		});
		expect(put.status).toBe(401);
		const ended = await call("DELETE", "/api/auth/session", carol);
		expect(ended.status).toBe(204);
		expect(ended.headers.get("set-cookie")).toMatch(/order_tracker_session=;.*Max-Age=0/i);
		// No session without a bearer token.
		expect((await call("POST", "/api/auth/session")).status).toBe(401);
	});

	it("takes a rotated signing key without a restart", async () => {
		const before = await idp.sign("erin", CUSTOMER);
		expect((await call("GET", "/api/orders", before)).status).toBe(200);
		await idp.rotate();
		const after = await idp.sign("erin", CUSTOMER);
		expect((await call("GET", "/api/orders", after)).status).toBe(200);
	});

	it("ends a stream when its token expires", async () => {
		const short = await idp.sign("frank", CUSTOMER, { expiresIn: 2 });
		const c = stream(short);
		await c.opened();
		// The server ends the stream at exp (plus the tolerance); the client then retries with the
		// expired token and is refused.
		await vi.waitFor(() => expect(c.errors).toBeGreaterThan(0), { timeout: 25_000 });
		c.close();
	}, 40_000);

	it("keeps the stream of a token valid for 30 days open (longer than one timer can wait)", async () => {
		const month = await idp.sign("hank", CUSTOMER, { expiresIn: 30 * 24 * 3600 });
		const c = stream(month);
		await c.opened();
		const marker = await createAs(month, "Hank marker");
		await vi.waitFor(() => expect(c.events.some((e) => e.data.orderId === marker.orderId)).toBe(true));
		expect([c.opens, c.errors]).toEqual([1, 0]); // one connection, never ended and reopened
		c.close();
	});

	it("serves a token that passed its exp within the clock tolerance: the stream and the cookie live until then", async () => {
		const late = await idp.sign("ivy", CUSTOMER, { expiresIn: -1 }); // accepted for 7 s more
		const session = await call("POST", "/api/auth/session", late);
		expect(session.status).toBe(204);
		const maxAge = Number(/Max-Age=(\d+)/i.exec(session.headers.get("set-cookie") ?? "")?.[1]);
		expect(maxAge).toBeGreaterThanOrEqual(1);
		const c = stream(late);
		await c.opened();
		const marker = await createAs(late, "Ivy marker");
		await vi.waitFor(() => expect(c.events.some((e) => e.data.orderId === marker.orderId)).toBe(true));
		expect(c.opens).toBe(1);
		c.close();
	});

	it("lets one caller hold at most Hub:MaxSubscribersPerPrincipal streams", async () => {
		const gina = await idp.sign("gina", CUSTOMER);
		const streams = await Promise.all([1, 2].map(() => fetch(url("/orderHub"), { headers: bearer(gina) })));
		expect(streams.map((r) => r.status)).toEqual([200, 200]);
		const third = await fetch(url("/orderHub"), { headers: bearer(gina) });
		expect(third.status).toBe(429);
		expect(third.headers.get("content-type")).toBe("application/problem+json");
		await streams[0]?.body?.cancel();
		await vi.waitFor(async () => {
			const again = await fetch(url("/orderHub"), { headers: bearer(gina) });
			expect(again.status).toBe(200);
			await again.body?.cancel();
		});
		await streams[1]?.body?.cancel();
	});

	it("allows credentials in CORS only for the configured origins", async () => {
		const res = await fetch(url("/api/orders/create"), {
			method: "OPTIONS",
			headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "POST" },
		});
		expect(res.headers.get("access-control-allow-credentials")).toBe("true");
		expect(res.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
		const other = await fetch(url("/api/orders/create"), {
			method: "OPTIONS",
			headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" },
		});
		expect(other.headers.get("access-control-allow-origin")).toBeNull();
		expect(other.headers.get("access-control-allow-credentials")).toBeNull();
	});
});
