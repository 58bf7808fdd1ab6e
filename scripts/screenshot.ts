// npm run screenshot: docs/board.png, the picture the README and docs/board.md show. Starts the server on 127.0.0.1
// (memory store), creates a few orders in various statuses, opens the board in the test's Chromium
// and changes one order live, so its status is caught flashing.
import { fileURLToPath } from "node:url";
import { boardFilesFromDisk } from "../src/board/files.js";
import type { Order } from "../src/domain/order.js";
import { launchBrowser } from "../test/support/browser.js";
import { startServer } from "../test/support/server.js";

const OUT = fileURLToPath(new URL("../docs/board.png", import.meta.url));

const ORDERS: [customerName: string, productName: string, path: string[]][] = [
	["Ada Lovelace", "Analytical Engine", ["Processing", "Shipped", "Delivered"]],
	["Grace Hopper", "COBOL reference manual", ["Processing", "Shipped"]],
	["Margaret Hamilton", "Apollo guidance listings", ["Cancelled"]],
	["Alan Turing", "Bombe rotor set", ["Processing"]],
	["Katherine Johnson", "Orbital mechanics tables", []],
	["Edsger Dijkstra", "Semaphore signal kit", []],
];

const server = await startServer({ boardFiles: boardFilesFromDisk() });
const browser = await launchBrowser();
try {
	const api = async (path: string, init?: RequestInit) => {
		const res = await fetch(`${server.baseUrl}${path}`, {
			...init,
			headers: { "content-type": "application/json" },
		});
		if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path} answered ${res.status}`);
		return res.json();
	};
	const setStatus = async (orderId: string, status: string) => {
		await api(`/api/orders/update-status/${orderId}`, { method: "PUT", body: JSON.stringify(status) });
		// Applied by the receiver loop shortly after the 202.
		for (let i = 0; i < 100; i++) {
			if (((await api(`/api/orders/${orderId}`)) as Order).status === status) return;
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
		throw new Error(`${orderId} did not become ${status}`);
	};
	const made: Order[] = [];
	for (const [customerName, productName, path] of ORDERS) {
		const order = (await api("/api/orders/create", {
			method: "POST",
			body: JSON.stringify({ customerName, productName }),
		})) as Order;
		for (const status of path) await setStatus(order.orderId, status);
		made.push(order);
	}

	const page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
	await page.goto(`${server.baseUrl}/`);
	await page.getByRole("status").filter({ hasText: /^Live/ }).waitFor();
	const flashing = made[4] as Order;
	await setStatus(flashing.orderId, "Processing");
	await page.locator(`tr[data-order-id="${flashing.orderId}"] .status.changed`).waitFor();
	await page.screenshot({ path: OUT, fullPage: true });
	console.log(`wrote ${OUT}`);
} finally {
	await browser.close();
	await server.close();
}
