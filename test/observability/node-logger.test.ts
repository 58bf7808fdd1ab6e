// The Node logger's two faces: JSON lines for collectors, readable lines in a terminal; both with
// the context of what caused the line, and neither with a secret a caller passed by mistake.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { withLogContext } from "../../src/observability/context.js";
import { createNodeLogger } from "../../src/observability/node-logger.js";

function capture() {
	const stream = new PassThrough();
	let text = "";
	stream.on("data", (d) => {
		text += d;
	});
	return { stream, text: () => text };
}

describe("node logger", () => {
	it("writes JSON lines with time, level, msg and the context; below the level nothing; secrets redacted", () => {
		const out = capture();
		const log = createNodeLogger("info", { pretty: false, destination: out.stream });
		withLogContext({ requestId: "r-1", orderId: "o-1" }, () =>
			log.warn("something", { authorization: "Bearer abc.def.ghi", attempt: 2 }),
		);
		log.debug("not written");
		const lines = out.text().trim().split("\n");
		expect(lines).toHaveLength(1);
		const line = JSON.parse(lines[0] as string);
		expect(line).toMatchObject({
			level: "warn",
			msg: "something",
			requestId: "r-1",
			orderId: "o-1",
			attempt: 2,
		});
		expect(line.authorization).toBe("[redacted]");
		expect(Number.isNaN(Date.parse(line.time))).toBe(false);
	});

	it("writes readable lines when asked (as on a terminal), with the same context", () => {
		const out = capture();
		const log = createNodeLogger("debug", { pretty: true, destination: out.stream });
		withLogContext({ requestId: "r-2" }, () => log.info("listening on http://127.0.0.1:5080"));
		const text = out.text();
		expect(text).toMatch(/INFO.*listening on http:\/\/127\.0\.0\.1:5080/);
		expect(text).toMatch(/requestId: "r-2"/);
		expect(text.trimStart().startsWith("{")).toBe(false);
	});
});
