import { describe, expect, it } from "vitest";
import { changeMessageId, newOrderId } from "../../src/domain/ids.js";

describe("newOrderId", () => {
	it("makes UUIDv7 strings that grow strictly, also within one millisecond", () => {
		const ids = Array.from({ length: 10_000 }, () => newOrderId(1_800_000_000_000));
		for (const id of ids)
			expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		for (let i = 1; i < ids.length; i++) expect((ids[i] as string) > (ids[i - 1] as string)).toBe(true);
		expect(new Set(ids).size).toBe(ids.length);
	});

	it("puts the time first, so later ids sort after earlier ones", () => {
		const a = newOrderId(Date.now());
		const b = newOrderId(Date.now() + 10_000);
		expect(b > a).toBe(true);
		expect(Number.parseInt(b.replace(/-/g, "").slice(0, 12), 16)).toBeGreaterThanOrEqual(
			Date.now() + 10_000 - 1,
		);
	});
});

describe("changeMessageId", () => {
	it("is the same name-based UUID (version 5) in every release, for every order, status and key", () => {
		// A PUT retried across an upgrade must get the message id it got before, or the queue's
		// duplicate detection lets the retry through. The value was computed by the first
		// implementation (WebCrypto's SHA-1).
		expect(changeMessageId("ord-1", "key-é", "Shipped")).toBe("7ba10600-cf5f-5951-b584-37b086329578");
		expect(changeMessageId("ord-1", "key-é", "Processing")).not.toBe(
			changeMessageId("ord-1", "key-é", "Shipped"),
		);
		expect(changeMessageId("ord-2", "key-é", "Shipped")).not.toBe(
			changeMessageId("ord-1", "key-é", "Shipped"),
		);
	});
});
