// A logger for tests that look at what was logged: each line as "msg {fields}" text.
import type { LogFields, Logger } from "../../src/observability/log.js";

export function linesLogger(push: (line: string) => void): Logger {
	const at = (level: string) => (msg: string, fields?: LogFields) =>
		push(`${level} ${msg}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
	return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
