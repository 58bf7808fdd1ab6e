// The project's logging port: every component logs through a Logger, and the runtime entry picks
// the implementation (pino on Node, JSON lines through console on Workers, silent in tests).
// Lines carry the context of what caused them (request id, trace id, order, message) from
// src/observability/context.ts, so a component never passes ids around just to log them.

import { currentLogContext } from "./context.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
	debug(msg: string, fields?: LogFields): void;
	info(msg: string, fields?: LogFields): void;
	warn(msg: string, fields?: LogFields): void;
	error(msg: string, fields?: LogFields): void;
}

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

const noop = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * A logger writing one JSON object per line: `time`, `level`, `msg`, then the context and fields.
 * Runtime-neutral (Workers Logs collects `console.log` lines as JSON); Node uses pino instead.
 */
export function jsonLineLogger(
	write: (line: string) => void,
	level: LogLevel,
	context: () => LogFields | undefined = currentLogContext,
): Logger {
	const threshold = LOG_LEVELS.indexOf(level);
	const at =
		(lvl: LogLevel) =>
		(msg: string, fields?: LogFields): void => {
			if (LOG_LEVELS.indexOf(lvl) < threshold) return;
			write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...context(), ...fields }));
		};
	return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** What an error says, for a log line: its message, and its stack when it is a defect. */
export function errorFields(err: unknown, withStack = false): LogFields {
	if (!(err instanceof Error)) return { err: String(err) };
	return withStack ? { err: err.message, stack: err.stack } : { err: err.message };
}
