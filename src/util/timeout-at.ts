// A timer for a moment however far ahead. setTimeout holds at most 2^31 − 1 ms (about 24.8 days):
// a longer delay fires after 1 ms instead (Node warns TimeoutOverflowWarning; browsers and workerd
// do the same). A token valid for a month would end its stream at once, and the client would
// reconnect for ever. This one waits in steps and re-arms until the moment has come.
const MAX_DELAY_MS = 2 ** 31 - 1;

export interface TimerAt {
	clear(): void;
}

export function setTimeoutAt(at: number, fn: () => void, now: () => number = Date.now): TimerAt {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const arm = () => {
		const left = at - now();
		if (left <= 0) {
			timer = undefined;
			fn();
			return;
		}
		timer = setTimeout(arm, Math.min(left, MAX_DELAY_MS));
		// A timer for the end of a stream never keeps the process alive by itself.
		(timer as { unref?: () => void }).unref?.();
	};
	arm();
	return { clear: () => clearTimeout(timer) };
}
