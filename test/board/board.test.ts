// The live order board in a real browser: Chromium from npm (@sparticuz/chromium, see
// test/support/browser.ts) driven by playwright-core, against the real server (Azurite store, so
// orders survive a server restart), and against the Worker in workerd. Never skipped.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boardFilesFromDisk } from "../../src/board/files.js";
import type { Order } from "../../src/orders/model.js";
import { launchBrowser } from "../support/browser.js";
import { type RunningServer, startServer } from "../support/server.js";
import { azuriteStore } from "../support/tables.js";
import { type RunningWorker, startWorker } from "../support/workerd.js";

let browser: Browser;
let server: RunningServer;
const store = azuriteStore();

beforeAll(async () => {
	browser = await launchBrowser();
	server = await startServer({ store, boardFiles: boardFilesFromDisk(), hub: { retryMs: 300 } });
});
afterAll(async () => {
	await browser?.close();
	await server?.close();
});

async function openBoard(width = 1100, baseUrl = server.baseUrl): Promise<Page> {
	const context = await browser.newContext({ viewport: { width, height: 800 } });
	const page = await context.newPage();
	await page.goto(`${baseUrl}/`);
	await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
	return page;
}

const row = (page: Page, orderId: string) => page.locator(`tr[data-order-id="${orderId}"]`);
const statusIn = (page: Page, orderId: string) => row(page, orderId).locator(".status").textContent();

/**
 * Opens the board twice (desktop and phone width), creates an order in the first page, then moves
 * it to `status` with a button in the second, which learnt of the order from /orderHub (no reload).
 * Both pages must show the new status.
 */
async function createHereChangeThere(baseUrl: string, customer: string, status: string) {
	const first = await openBoard(1100, baseUrl);
	const second = await openBoard(390, baseUrl);
	await first.getByLabel("Customer").fill(customer);
	await first.getByLabel("Product").fill("Analytical Engine");
	await first.getByRole("button", { name: "Create order" }).click();
	const created = first.locator("tbody tr", { hasText: customer });
	await created.waitFor();
	const orderId = (await created.getAttribute("data-order-id")) as string;
	await row(second, orderId).waitFor();
	await second
		.getByRole("button", { name: new RegExp(`as ${status}$`) })
		.first()
		.click();
	await expect.poll(() => statusIn(first, orderId)).toBe(status);
	await expect.poll(() => statusIn(second, orderId)).toBe(status);
	return { first, second, orderId };
}

describe("live order board at /", () => {
	it("creates in one page, changes status from another, both update live; reconnects and catches up after a restart", async () => {
		const { first, second, orderId } = await createHereChangeThere(
			server.baseUrl,
			"Ada Lovelace",
			"Processing",
		);
		expect(await row(first, orderId).locator(".status").getAttribute("class")).toContain("changed");
		// The next allowed statuses follow the rules: no way back to Pending.
		const nextButtons = await row(first, orderId).getByRole("button").allTextContents();
		expect(nextButtons).toEqual(["Shipped", "Delivered", "Cancelled"]);

		// Stop the server; change the order while the page is away; start it again on the same port.
		const port = Number(new URL(server.baseUrl).port);
		await server.close();
		await first.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor();
		const applied = await store.applyStatus({
			orderId,
			status: "Shipped",
			messageId: "while-down",
			occurredAt: "",
		});
		expect(applied.kind).toBe("applied");
		server = await startServer({ store, boardFiles: boardFilesFromDisk(), hub: { retryMs: 300 }, port });

		// A new server cannot replay the old one's events: the page is told to reset and refetches.
		await first.getByRole("status").filter({ hasText: "refetched" }).waitFor({ timeout: 15_000 });
		await expect.poll(() => statusIn(first, orderId)).toBe("Shipped");
		await expect.poll(() => statusIn(second, orderId)).toBe("Shipped");

		// And it is live again.
		const res = await fetch(`${server.baseUrl}/api/orders/update-status/${orderId}`, {
			method: "PUT",
			headers: { "content-type": "application/json" },
			body: '"Delivered"',
		});
		expect(res.status).toBe(202);
		await expect.poll(() => statusIn(first, orderId)).toBe("Delivered");
		expect(await row(first, orderId).getByRole("button").count()).toBe(0);
		const order = (await (await fetch(`${server.baseUrl}/api/orders/${orderId}`)).json()) as Order;
		expect(order.status).toBe("Delivered");
	}, 60_000);

	it("shows the problem when a create is refused", async () => {
		const page = await openBoard();
		await page.getByLabel("Customer").fill("Bad");
		await page.getByLabel("Product").fill("Key");
		await page.getByLabel("Partition").fill("a/b");
		await page.getByRole("button", { name: "Create order" }).click();
		await expect
			.poll(() => page.getByRole("alert").textContent())
			.toMatch(/partitionKey must not contain '\/'/);
	});
});

describe("live order board on Workers (wrangler dev)", () => {
	let worker: RunningWorker | undefined;
	afterAll(async () => {
		await worker?.stop();
	});

	it("creates in one page, changes status from another, both update live through the hub object", async () => {
		worker = await startWorker();
		await createHereChangeThere(worker.baseUrl, "Grace Hopper", "Shipped");
	}, 60_000);
});
