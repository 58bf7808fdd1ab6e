import { describe, expect, it } from "vitest";
import { BoundedMap } from "../src/util/bounded-map.js";

describe("BoundedMap", () => {
	it("keeps the newest entries up to its capacity, a set refreshing an entry's recency", () => {
		const m = new BoundedMap<string, number>(2);
		m.set("a", 1);
		m.set("b", 2);
		m.set("a", 3); // a is now the newest
		m.set("c", 4); // b, the least recent, goes
		expect([m.has("a"), m.has("b"), m.has("c")]).toEqual([true, false, true]);
		expect(m.get("a")).toBe(3);
		expect(m.size).toBe(2);
		m.delete("a");
		expect(m.size).toBe(1);
	});
});
