// The board in Chromium against a server with Auth:Mode Jwt (tokens from the tests' own OpenID
// provider): it asks for a token, takes one from the #token= fragment, streams through the session
// cookie, and a customer never sees another customer's order, live or listed.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boardFilesFromDisk } from "../../src/board/files.js";
import { launchBrowser } from "../support/browser.js";
import { TestOidcProvider } from "../support/oidc-provider.js";
import { type RunningServer, startServer } from "../support/server.js";

const CUSTOMER = ["Orders.Create", "Orders.Read"];
let browser: Browser;
let server: RunningServer;
let idp: TestOidcProvider;

beforeAll(async () => {
	browser = await launchBrowser();
	idp = await TestOidcProvider.start();
	const verifier = idp.verifier();
	server = await startServer({ boardFiles: boardFilesFromDisk(), hub: { retryMs: 300 }, auth: { verifier } });
});
afterAll(async () => {
	await browser?.close();
	await server?.close();
	await idp?.close();
});

async function open(fragment = ""): Promise<Page> {
	const page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
	await page.goto(`${server.baseUrl}/${fragment}`);
	return page;
}

async function createVia(page: Page, customer: string) {
	const form = page.getByRole("form", { name: "New order" });
	await form.getByLabel("Customer").fill(customer);
	await form.getByLabel("Product").fill("Engine");
	await form.getByRole("button", { name: "Create order" }).click();
	await page.locator("tbody tr", { hasText: customer }).waitFor();
}

describe("the board with Auth:Mode Jwt", () => {
	it("asks for a token, then lists and streams only the signed-in customer's orders", async () => {
		const page = await open();
		await page.getByRole("form", { name: "Sign in" }).waitFor();
		await page.getByRole("status").filter({ hasText: "Sign in" }).waitFor();
		await page.getByLabel("Access token").fill(await idp.sign("ada", CUSTOMER));
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
		expect(await page.getByRole("form", { name: "Sign in" }).isHidden()).toBe(true);
		await createVia(page, "Ada's order");

		// Another customer, in another tab with the token in the fragment (never sent to the server).
		const other = await open(`#token=${await idp.sign("bob", CUSTOMER)}`);
		await other.getByRole("status").filter({ hasText: "Live" }).waitFor();
		expect(other.url()).not.toContain("token=");
		await createVia(other, "Bob's order");
		// A marker of Ada's made through the API reaches Ada's page live; Bob's order never does.
		const res = await fetch(`${server.baseUrl}/api/orders/create`, {
			method: "POST",
			headers: {
				"content-type": "application/json",
				authorization: `Bearer ${await idp.sign("ada", CUSTOMER)}`,
			},
			body: JSON.stringify({ customerName: "Ada's marker", productName: "P" }),
		});
		expect(res.status).toBe(201);
		await page.locator("tbody tr", { hasText: "Ada's marker" }).waitFor();
		expect(await page.locator("tbody tr", { hasText: "Bob's order" }).count()).toBe(0);
		expect(await other.locator("tbody tr", { hasText: "Ada" }).count()).toBe(0);
	}, 60_000);
});
