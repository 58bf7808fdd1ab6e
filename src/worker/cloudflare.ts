// The few Cloudflare Workers types this service uses, declared here rather than pulling in
// @cloudflare/workers-types (whose globals clash with the DOM and Node typings the rest uses).

export interface ExecutionContextLike {
	waitUntil(promise: Promise<unknown>): void;
	passThroughOnException?(): void;
}

export interface DurableObjectStubLike {
	fetch(input: Request | string, init?: RequestInit): Promise<Response>;
}

export interface DurableObjectNamespaceLike {
	idFromName(name: string): unknown;
	get(id: unknown): DurableObjectStubLike;
}

/** The parts of a Durable Object's state the hub object uses (its alarm drives the receiver). */
export interface DurableObjectStateLike {
	storage: {
		getAlarm(): Promise<number | null>;
		setAlarm(scheduledTime: number): Promise<void>;
	};
	blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
}

/** What the Worker reads from its bindings: the hub object, plus vars and secrets (settings). */
export interface WorkerEnv {
	/** The OrderHubObject Durable Object namespace (wrangler.toml [[durable_objects.bindings]]). */
	HUB?: DurableObjectNamespaceLike;
	[setting: string]: unknown;
}
