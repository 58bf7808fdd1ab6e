// The live order board in a real browser: Chromium from npm (@sparticuz/chromium, see
// test/support/browser.ts) driven by playwright-core, against the real server (Azurite store, so
// orders survive a server restart), and against the Worker in workerd. Never skipped.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boardFilesFromDisk } from "../../src/board/files.js";
import type { Order } from "../../src/domain/order.js";
import { applyStatusChange } from "../../src/usecases/apply-status-change.js";
import { launchBrowser } from "../support/browser.js";
import { createOrder, putStatus } from "../support/orders-client.js";
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

/** Opens the board and waits until it is live with its first page of orders shown. */
async function openBoard(width = 1100, baseUrl = server.baseUrl, query = ""): Promise<Page> {
	const context = await browser.newContext({
		viewport: { width, height: 800 },
		permissions: ["clipboard-read", "clipboard-write"],
	});
	const page = await context.newPage();
	await page.goto(`${baseUrl}/${query}`);
	await waitLive(page);
	return page;
}

// The badge says "Live" once the board is subscribed and has read the list; a new filter first
// turns it back to "Connecting…" (synchronously, in the event handler).
const waitLive = (page: Page) => page.getByRole("status").filter({ hasText: /^Live/ }).waitFor();
const row = (page: Page, orderId: string) => page.locator(`tr[data-order-id="${orderId}"]`);
const statusIn = (page: Page, orderId: string) => row(page, orderId).locator(".status").textContent();
const nextButtons = (page: Page, orderId: string) => row(page, orderId).locator(".next").getByRole("button");
const newOrderForm = (page: Page) => page.getByRole("form", { name: "New order" });
const filters = (page: Page) => page.getByRole("search", { name: "Filter orders" });
/** The order ids the table shows, top to bottom. */
const shownIds = (page: Page) =>
	page.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.orderId));

/**
 * Opens the board twice (desktop and phone width), creates an order in the first page, then moves
 * it to `status` with a button in the second, which learnt of the order from /orderHub (no reload).
 * Both pages must show the new status.
 */
async function createHereChangeThere(baseUrl: string, customer: string, status: string) {
	const first = await openBoard(1100, baseUrl);
	const second = await openBoard(390, baseUrl);
	const form = newOrderForm(first);
	await form.getByLabel("Customer").fill(customer);
	await form.getByLabel("Product").fill("Analytical Engine");
	await form.getByRole("button", { name: "Create order" }).click();
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
		expect(await nextButtons(first, orderId).allTextContents()).toEqual([
			"Shipped",
			"Delivered",
			"Cancelled",
		]);

		// Stop the server; change the order while the page is away; start it again on the same port.
		const port = Number(new URL(server.baseUrl).port);
		await server.close();
		await first.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor();
		const applied = await applyStatusChange(store, {
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
		expect((await putStatus(server.baseUrl, orderId, "Delivered")).status).toBe(202);
		await expect.poll(() => statusIn(first, orderId)).toBe("Delivered");
		expect(await nextButtons(first, orderId).count()).toBe(0);
		const order = (await (await fetch(`${server.baseUrl}/api/orders/${orderId}`)).json()) as Order;
		expect(order.status).toBe("Delivered");
	}, 60_000);

	it("shows the problem when a create is refused", async () => {
		const page = await openBoard();
		const form = newOrderForm(page);
		await form.getByLabel("Customer").fill("Bad");
		await form.getByLabel("Product").fill("Key");
		await form.getByLabel("Partition").fill("a/b");
		await form.getByRole("button", { name: "Create order" }).click();
		await expect
			.poll(() => page.getByRole("alert").textContent())
			.toMatch(/partitionKey must not contain '\/'/);
	});
});

describe("the board as an operator's list (its own empty table)", () => {
	let base: string;
	let own: RunningServer;
	beforeAll(async () => {
		own = await startServer({ store: azuriteStore(), boardFiles: boardFilesFromDisk() });
		base = own.baseUrl;
	});
	afterAll(async () => {
		await own?.close();
	});

	it("says when there are no orders, and when none match the filter", async () => {
		const page = await openBoard(1100, base);
		expect(await page.getByText("No orders yet").isVisible()).toBe(true);
		expect(await page.locator("tbody tr").count()).toBe(0);

		await filters(page).getByLabel("Customer").fill("Nobody");
		await filters(page).getByRole("button", { name: "Filter" }).click();
		await waitLive(page);
		expect(await page.getByText("No orders match").isVisible()).toBe(true);
		expect(page.url()).toContain("customerName=Nobody");
	});

	it("tells orders created together apart: the id's random tail, the full id on hover and in the details with the history", async () => {
		const made = await Promise.all(
			["Loom", "Lathe", "Press"].map((productName) =>
				createOrder(base, { customerName: "Same Minute", productName }),
			),
		);
		const page = await openBoard(1100, base);
		const visible = await Promise.all(made.map((o) => row(page, o.orderId).locator("td.id").textContent()));
		expect(new Set(visible).size).toBe(3);
		expect(visible).toEqual(made.map((o) => o.orderId.slice(-12)));
		const [target] = made as [Order, ...Order[]];
		const details = row(page, target.orderId).getByRole("button", { name: /^Details of order/ });
		expect(await details.getAttribute("title")).toBe(target.orderId);

		expect((await putStatus(base, target.orderId, "Processing")).status).toBe(202);
		await expect.poll(() => statusIn(page, target.orderId)).toBe("Processing");
		await details.click();
		const dialog = page.getByRole("dialog", { name: `Order ${target.orderId.slice(-12)}` });
		await dialog.waitFor();
		expect(await dialog.getByText(target.orderId).isVisible()).toBe(true);
		const history = () => dialog.getByRole("listitem").locator("strong").allTextContents();
		await expect.poll(history).toEqual(["Pending", "Processing"]);
		// Kept current while open.
		expect((await putStatus(base, target.orderId, "Shipped")).status).toBe(202);
		await expect.poll(history).toEqual(["Pending", "Processing", "Shipped"]);

		await dialog.getByRole("button", { name: "Copy id" }).click();
		await dialog.getByRole("button", { name: "Copied" }).waitFor();
		expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(target.orderId);
		await dialog.getByRole("button", { name: "Close" }).click();
		await dialog.waitFor({ state: "hidden" });
	});

	it("filters by status and by customer, and live events keep to the filter", async () => {
		const [ada1, ada2, bob] = await Promise.all([
			createOrder(base, { customerName: "Filter Ada", productName: "Loom" }),
			createOrder(base, { customerName: "Filter Ada", productName: "Engine" }),
			createOrder(base, { customerName: "Filter Bob", productName: "Lathe" }),
		]);
		const page = await openBoard(1100, base);
		expect((await putStatus(base, ada2.orderId, "Processing")).status).toBe(202);
		await expect.poll(() => statusIn(page, ada2.orderId)).toBe("Processing");

		await filters(page).getByLabel("Status").selectOption("Processing");
		await waitLive(page);
		expect(await shownIds(page)).toEqual([ada2.orderId]);
		// An order that leaves the filter leaves the list.
		expect((await putStatus(base, ada2.orderId, "Shipped")).status).toBe(202);
		await row(page, ada2.orderId).waitFor({ state: "detached" });
		await page.getByText("No orders match").waitFor();

		await filters(page).getByLabel("Status").selectOption("");
		await filters(page).getByLabel("Customer").fill("Filter Ada");
		await filters(page).getByRole("button", { name: "Filter" }).click();
		await waitLive(page);
		// Created concurrently: either may have the smaller id, and the board lists in id order.
		const adas = [ada1.orderId, ada2.orderId].sort();
		expect(await shownIds(page)).toEqual(adas);
		// Events for other customers are not shown: Bob's order is created before Ada's, so it
		// would be on the board by the time Ada's is.
		const bob2 = await createOrder(base, { customerName: "Filter Bob", productName: "Drill" });
		const ada3 = await createOrder(base, { customerName: "Filter Ada", productName: "Mill" });
		await row(page, ada3.orderId).waitFor();
		expect(await shownIds(page)).toEqual([...adas, ada3.orderId]);
		expect(await row(page, bob2.orderId).count()).toBe(0);

		await filters(page).getByRole("button", { name: "Clear" }).click();
		await waitLive(page);
		await row(page, bob.orderId).waitFor();
		expect(await filters(page).getByLabel("Customer").inputValue()).toBe("");
	});

	it("loads the next page on request, in order, until there is none", async () => {
		const made: Order[] = [];
		for (const productName of ["A", "B", "C", "D", "E"]) {
			made.push(await createOrder(base, { customerName: "Paging", productName }));
		}
		const ids = made.map((o) => o.orderId);
		// Filters from the address too, the status in any case.
		const page = await openBoard(1100, base, "?pageSize=2&status=pending&customerName=Paging");
		expect(await filters(page).getByLabel("Status").inputValue()).toBe("Pending");
		expect(await filters(page).getByLabel("Customer").inputValue()).toBe("Paging");
		expect(await shownIds(page)).toEqual(ids.slice(0, 2));
		const more = page.getByRole("button", { name: "Load more" });
		await more.click();
		await expect.poll(() => shownIds(page)).toEqual(ids.slice(0, 4));
		await more.click();
		await expect.poll(() => shownIds(page)).toEqual(ids);
		await more.waitFor({ state: "hidden" });
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
