// The browser build of @microsoft/signalr (served by the test from node_modules, no CDN) in
// Chromium, against a server with Auth:Mode Jwt: the page gets the HttpOnly session cookie, then
// the unchanged code of a frontend written for the .NET original connects to /orderHub and
// receives only its customer's orders.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { TestOidcProvider } from "../support/oidc-provider.js";
import { type RunningServer, startServer } from "../support/server.js";

const CUSTOMER = ["Orders.Create", "Orders.Read"];
const require = createRequire(import.meta.url);
const SIGNALR_JS = readFileSync(require.resolve("@microsoft/signalr/dist/browser/signalr.js"), "utf8");
const PAGE = `<!doctype html><meta charset="utf-8"><title>SignalR frontend</title>
<script src="/test/signalr.js"></script>
<script>
  window.received = [];
  window.connectToHub = async () => {
    // As the original's frontends have it.
    const connection = new signalR.HubConnectionBuilder().withUrl("/orderHub").withAutomaticReconnect().build();
    connection.on("ReceiveOrderUpdate", (update) => window.received.push(["ReceiveOrderUpdate", update]));
    connection.on("OrderCreated", (order) => window.received.push(["OrderCreated", order]));
    await connection.start();
    window.connection = connection;
    return connection.connection.transport.constructor.name;
  };
</script>`;

let browser: Browser;
let server: RunningServer;
let idp: TestOidcProvider;

beforeAll(async () => {
	browser = await launchBrowser();
	idp = await TestOidcProvider.start();
	server = await startServer({
		auth: { verifier: idp.verifier() },
		hub: { coalesceMs: 0 },
		extend: (app) => {
			app.get("/test/page", (c) => c.html(PAGE));
			app.get("/test/signalr.js", (c) => c.body(SIGNALR_JS, 200, { "content-type": "text/javascript" }));
		},
	});
});
afterAll(async () => {
	await browser?.close();
	await server?.close();
	await idp?.close();
});

async function createAs(token: string, customerName: string): Promise<string> {
	const res = await fetch(`${server.baseUrl}/api/orders/create`, {
		method: "POST",
		headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
		body: JSON.stringify({ customerName, productName: "P" }),
	});
	expect(res.status).toBe(201);
	return ((await res.json()) as { orderId: string }).orderId;
}

const receivedIds = (page: Page) =>
	page.evaluate(() =>
		(window as unknown as { received: [string, { orderId: string }][] }).received.map(([, o]) => o.orderId),
	);

describe("the @microsoft/signalr browser client in Chromium", () => {
	it("connects with the session cookie and receives only its customer's orders; invoking is refused", async () => {
		const page = await (await browser.newContext()).newPage();
		const errors: string[] = [];
		page.on("pageerror", (e) => errors.push(e.message));
		await page.goto(`${server.baseUrl}/test/page`);
		const ada = await idp.sign("browser-ada", CUSTOMER);
		// The page signs in: its token becomes the HttpOnly session cookie.
		const status = await page.evaluate(
			async (token) =>
				(await fetch("/api/auth/session", { method: "POST", headers: { authorization: `Bearer ${token}` } }))
					.status,
			ada,
		);
		expect(status).toBe(204);
		const transport = await page.evaluate(() =>
			(window as unknown as { connectToHub: () => Promise<string> }).connectToHub(),
		);
		expect(transport).toBe("ServerSentEventsTransport");

		const mine = await createAs(ada, "Ada in the browser");
		await createAs(await idp.sign("browser-bob", CUSTOMER), "Bob elsewhere");
		const marker = await createAs(ada, "Ada's marker");
		await expect.poll(() => receivedIds(page), { timeout: 15_000 }).toEqual([mine, marker]);

		const refused = await page.evaluate(async () => {
			const c = (window as unknown as { connection: { invoke(m: string): Promise<unknown>; state: string } })
				.connection;
			const message = await c.invoke("Broadcast").then(
				() => "accepted",
				(e: Error) => e.message,
			);
			return { message, state: c.state };
		});
		expect(refused.message).toMatch(/no methods a client may call/);
		expect(refused.state).toBe("Connected");
		expect(errors).toEqual([]);
	}, 60_000);
});
