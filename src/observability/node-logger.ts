// The Node logger: pino, JSON lines on stdout (or colour lines through pino-pretty when stdout is a
// terminal, as with `npm run dev`), each line with the context of what caused it.
import pino from "pino";
import pretty from "pino-pretty";
import { currentLogContext } from "./context.js";
import type { LogFields, Logger, LogLevel } from "./log.js";

/** Field names never written, whatever a caller passes (a last line of defence: nothing logs them). */
const REDACTED = [
	"authorization",
	"token",
	"accessToken",
	"connectionString",
	"password",
	"secret",
	"*.authorization",
	"*.token",
	"*.connectionString",
];

export function createNodeLogger(
	level: LogLevel,
	/** `pretty`: colour lines (default when stdout is a terminal); `destination`: default stdout. */
	options: { pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
	const usePretty = options.pretty ?? process.stdout.isTTY === true;
	const destination = usePretty
		? pretty({
				colorize: options.destination === undefined,
				sync: true,
				translateTime: "SYS:HH:MM:ss.l",
				...(options.destination ? { destination: options.destination } : {}),
			})
		: (options.destination ?? pino.destination(1));
	const base = pino(
		{
			level,
			base: undefined, // no pid/hostname on every line: the platform's collector adds where it ran
			timestamp: pino.stdTimeFunctions.isoTime,
			formatters: { level: (label) => ({ level: label }) },
			mixin: () => currentLogContext() ?? {},
			redact: { paths: REDACTED, censor: "[redacted]" },
		},
		destination,
	);
	const at =
		(lvl: LogLevel) =>
		(msg: string, fields?: LogFields): void => {
			if (fields) base[lvl](fields, msg);
			else base[lvl](msg);
		};
	return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
