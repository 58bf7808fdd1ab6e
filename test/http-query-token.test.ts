// The access_token query parameter is taken off the URL before any later middleware (request log,
// traces) sees the request, however its name is spelled in the URL.
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { stripAccessToken } from "../src/http/query-token.js";

function app() {
	const seen: { url: string; token: unknown }[] = [];
	const hono = new Hono<{ Variables: { queryAccessToken: string } }>();
	hono.use(stripAccessToken());
	hono.get("*", (c) => {
		seen.push({ url: c.req.url, token: c.get("queryAccessToken") });
		return c.text("ok");
	});
	return { hono, seen };
}

describe("stripAccessToken", () => {
	it.each([
		["plain", "access_token=SECRET"],
		["name percent-encoded", "%61ccess_token=SECRET"],
		["underscore encoded", "access%5Ftoken=SECRET"],
		["every letter encoded", "%61%63%63%65%73%73%5F%74%6F%6B%65%6E=SECRET"],
	])("takes the token off the URL (%s)", async (_, query) => {
		const { hono, seen } = app();
		await hono.request(`http://localhost/orderHub?id=abc&${query}&orderId=o1`);
		expect(seen[0]?.token).toBe("SECRET");
		expect(seen[0]?.url).not.toContain("SECRET");
		expect(seen[0]?.url).toContain("id=abc");
		expect(seen[0]?.url).toContain("orderId=o1");
	});

	it("leaves a URL without one as it is", async () => {
		const { hono, seen } = app();
		await hono.request("http://localhost/api/orders?customerName=J%C3%BCrgen");
		expect(seen[0]).toEqual({
			url: "http://localhost/api/orders?customerName=J%C3%BCrgen",
			token: undefined,
		});
	});
});
