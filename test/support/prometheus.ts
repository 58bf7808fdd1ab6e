// Reads /metrics with a real Prometheus text-format parser (parse-prometheus-text-format), into
// "name{label=value,...}" → value. The whole exposition is parsed as served (the parser throws on a
// malformed line); the samples are then read with the histograms' TYPE lines left out, because the
// parser drops the _sum and _count of labelled histograms: each series reads as itself.
import parsePrometheusTextFormat from "parse-prometheus-text-format";

interface Family {
	name: string;
	type: string;
	metrics: { value?: string; labels?: Record<string, string> }[];
}

export type Samples = Map<string, number>;

export async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<Samples> {
	const res = await fetch(`${baseUrl}/metrics`, { headers });
	if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
	const text = await res.text();
	const parse = parsePrometheusTextFormat as (text: string) => Family[];
	parse(text);
	const samples: Samples = new Map();
	for (const family of parse(text.replace(/^# TYPE \S+ histogram\n/gm, ""))) {
		for (const m of family.metrics) {
			const labels = Object.entries(m.labels ?? {})
				.filter(([, v]) => v !== "")
				.map(([k, v]) => `${k}=${v}`)
				.sort()
				.join(",");
			samples.set(`${family.name}${labels ? `{${labels}}` : ""}`, Number(m.value));
		}
	}
	return samples;
}

/** The value of a sample; 0 when the series does not exist yet (a counter never incremented). */
export const sample = (samples: Samples, key: string): number => samples.get(key) ?? 0;
