// Headless Chromium for the board test and `npm run screenshot`, from npm rather than the system:
// @sparticuz/chromium unpacks its binary into the temp folder on first use (later calls reuse it),
// and playwright-core drives it. CHROMIUM_PATH overrides it with another Chromium.
import Sparticuz from "@sparticuz/chromium";
import { type Browser, chromium } from "playwright-core";

// Plain arguments: the package's own `args` (tuned for AWS Lambda, --single-process among them)
// crash Chromium with SIGTRAP on an ordinary Linux machine. The rest keep a closed network quiet:
// no background traffic, no first-run work.
const ARGS = [
	"--headless=new",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

export async function launchBrowser(): Promise<Browser> {
	const executablePath = process.env.CHROMIUM_PATH || (await Sparticuz.executablePath());
	try {
		return await chromium.launch({ executablePath, args: ARGS });
	} catch (err) {
		// A run killed while unpacking leaves a partial binary that later runs would reuse.
		throw new Error(
			`Chromium at ${executablePath} did not start; if it is a partial unpack, delete it and retry.`,
			{ cause: err },
		);
	}
}
