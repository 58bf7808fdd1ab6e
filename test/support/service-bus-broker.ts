// TEST INFRASTRUCTURE, NOT A PRODUCT: a small AMQP 1.0 broker on `rhea` that speaks the subset of
// the Azure Service Bus protocol the unmodified @azure/service-bus SDK uses (see docs/facts.md):
// CBS put-token, sends (single and batched), peek-lock delivery with lock tokens and the annotations
// the SDK reads, complete / abandon / dead-letter dispositions, the $DeadLetterQueue sub-queue, max
// delivery count, lock expiry, renew-lock / peek-message on $management, and topics: a message sent
// to a topic is copied to each of its subscriptions (`<topic>/Subscriptions/<name>`, made with
// createSubscription as infrastructure code would), each a queue of its own. It can drop every
// connection, or stop and come back on the same port, keeping its messages like a durable broker.
// Not covered (only a real namespace shows them): sessions, duplicate detection, scheduled
// messages, transactions, TLS, SAS/Entra authentication, partitioning, quotas and throttling.
import type { AddressInfo, Server, Socket } from "node:net";
import rhea, {
	type Connection,
	type Delivery,
	type EventContext,
	type Message,
	type Receiver,
	type Sender,
} from "rhea";

const BATCH_FORMAT = 0x80013700;

export interface BrokerOptions {
	maxDeliveryCount?: number;
	lockDurationMs?: number;
	/** TLS with this certificate (PEM): the SDK then connects as to Azure (amqps), no emulator flag. */
	tls?: { cert: string; key: string };
	/**
	 * Microsoft Entra ID auth, as on a namespace with local (SAS) auth disabled: a CBS put-token must
	 * be of type `jwt` and pass this check, which answers the rights the token's identity holds
	 * (its role assignments: Data Sender gives "Send", Data Receiver "Listen") or throws to refuse it.
	 * A link to an entity on a connection that brought no token is refused; so is a link needing a
	 * right the token lacks, with the error text Service Bus uses.
	 */
	verifyToken?: (token: string, audience: string) => Promise<Set<Right>>;
}

export type Right = "Send" | "Listen";

export interface StoredMessage {
	sequenceNumber: number;
	enqueuedAt: Date;
	/** Deliveries so far (the AMQP header's delivery_count on the next delivery). */
	deliveryCount: number;
	message: Message;
	deadLetterReason?: string;
	deadLetterDescription?: string;
}

interface Lock {
	stored: StoredMessage;
	entity: Entity;
	delivery: Delivery;
	connection: Connection;
	lockedUntil: Date;
	timer: ReturnType<typeof setTimeout>;
	keys: string[];
}

class Entity {
	readonly available: StoredMessage[] = [];
	/** Every message ever sent to this entity, as received (for tests to inspect). */
	readonly received: Message[] = [];
	readonly receivers = new Set<Sender>();
	/** Competing receivers take turns (as on Service Bus): the one to try first next. */
	turn = 0;
	constructor(readonly name: string) {}
}

function reorder(tag: Buffer): Buffer {
	const b = tag;
	return Buffer.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.subarray(8)] as number[]);
}

interface Attach {
	source?: { address?: string };
	target?: { address?: string };
}
/** What the client sent in its attach (rhea's typings omit `remote`). */
const remoteAttach = (link: Sender | Receiver): Attach | undefined =>
	(link as unknown as { remote: { attach?: Attach } }).remote.attach;

/**
 * Receivers use settle mode "second": the client's disposition waits for ours. Settling with
 * `accepted` (no error) resolves the SDK's complete/abandon/deadLetter promise.
 */
function settle(delivery: Delivery): void {
	delivery.update(
		true,
		(rhea.message as unknown as { accepted(): { described(): unknown } }).accepted().described(),
	);
}

/** Strips `sb://host:port/` so links can name an entity either way. */
function entityName(address: string | undefined): string {
	if (!address) return "";
	return address.replace(/^(amqps?|sb):\/\/[^/]+\//, "");
}

export class TestServiceBusBroker {
	private readonly container = rhea.create_container({ id: "test-service-bus-broker" });
	private server?: Server;
	private readonly sockets = new Set<Socket>();
	private readonly entities = new Map<string, Entity>();
	/** topic -> its subscriptions' entity names */
	private readonly topics = new Map<string, Set<string>>();
	private readonly locks = new Map<string, Lock>();
	private readonly connections = new Set<Connection>();
	private readonly handedOver = new WeakMap<Sender, number>();
	private sequence = 0;
	private readonly options: BrokerOptions;
	/** With verifyToken: the rights each connection's accepted tokens brought. */
	private readonly rights = new WeakMap<Connection, Set<Right>>();
	/** Why tokens and links were refused, for tests. */
	readonly refusals: string[] = [];
	private readonly maxDeliveryCount: number;
	private readonly lockDurationMs: number;
	port = 0;
	/** Deliveries made and locks renewed, for tests. */
	deliveries = 0;
	renewals = 0;

	private constructor(options: BrokerOptions) {
		this.options = options;
		this.maxDeliveryCount = options.maxDeliveryCount ?? 10;
		this.lockDurationMs = options.lockDurationMs ?? 30_000;
		this.container.sasl_server_mechanisms.enable_anonymous();
		this.container.on("connection_open", (ctx: EventContext) => this.connections.add(ctx.connection));
		this.container.on("disconnected", (ctx: EventContext) => this.onConnectionGone(ctx.connection));
		this.container.on("connection_close", (ctx: EventContext) => this.onConnectionGone(ctx.connection));
		this.container.on("sender_open", (ctx: EventContext) => this.onReceiverAttached(ctx));
		this.container.on("receiver_open", (ctx: EventContext) => {
			const receiver = ctx.receiver;
			if (!receiver) return;
			receiver.set_target({ address: remoteAttach(receiver)?.target?.address ?? "" });
			this.refuseUnauthorized(receiver, entityName(remoteAttach(receiver)?.target?.address), "Send");
		});
		this.container.on("sendable", () => this.pumpAll());
		this.container.on("sender_draining", (ctx: EventContext) => {
			this.pumpAll();
			ctx.sender?.set_drained(true);
		});
		this.container.on("message", (ctx: EventContext) => {
			try {
				this.onMessage(ctx);
			} catch (err) {
				console.error("broker onMessage", err);
			}
		});
		this.container.on("accepted", (ctx: EventContext) => this.onSettle(ctx, "complete"));
		this.container.on("modified", (ctx: EventContext) => this.onSettle(ctx, "abandon"));
		this.container.on("released", (ctx: EventContext) => this.onSettle(ctx, "abandon"));
		this.container.on("rejected", (ctx: EventContext) => this.onSettle(ctx, "dead-letter"));
		this.container.on("error", () => {});
		this.container.on("connection_error", () => {});
		this.container.on("protocol_error", () => {});
	}

	static async start(options: BrokerOptions = {}): Promise<TestServiceBusBroker> {
		const broker = new TestServiceBusBroker(options);
		await broker.listen(0);
		return broker;
	}

	/** For the SDK with a token credential: `host:port` (TLS when the broker was started with it). */
	get fullyQualifiedNamespace(): string {
		return `127.0.0.1:${this.port}`;
	}

	/** For the SDK: plain TCP, SASL ANONYMOUS, CBS accepted without checking the token. */
	get connectionString(): string {
		return `Endpoint=sb://127.0.0.1:${this.port};SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true`;
	}

	private listen(port: number): Promise<void> {
		return new Promise((resolve, reject) => {
			const server = this.container.listen({
				...(this.options.tls
					? { transport: "tls", cert: this.options.tls.cert, key: this.options.tls.key }
					: {}),
				port,
				host: "127.0.0.1",
				treat_modified_as_released: false,
				autoaccept: true,
				// rhea keeps a session's deliveries in a ring (2,048 by default) and frees a slot only when
				// every older delivery is settled: one message held in peek-lock for seconds while topic
				// deliveries flow on the same connection would overflow it.
				session_buffer_size: 1 << 16,
			} as never) as unknown as Server;
			server.once("error", reject);
			server.once("listening", () => {
				this.port = (server.address() as AddressInfo).port;
				resolve();
			});
			server.on("connection", (socket: Socket) => {
				this.sockets.add(socket);
				socket.on("close", () => this.sockets.delete(socket));
			});
			this.server = server;
		});
	}

	/** Every client connection drops at once (a network blip); the broker keeps listening. */
	dropConnections(): void {
		for (const s of this.sockets) s.destroy();
		// rhea does not always report a socket we destroyed ourselves: forget its links and locks now.
		for (const c of [...this.connections]) this.onConnectionGone(c);
	}

	/** Stops listening and drops every connection; messages are kept. */
	async stop(): Promise<void> {
		const server = this.server;
		this.server = undefined;
		this.dropConnections();
		if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
	}

	/** Comes back on the same port. */
	async restart(): Promise<void> {
		await this.listen(this.port);
	}

	async close(): Promise<void> {
		await this.stop();
		for (const lock of this.locks.values()) clearTimeout(lock.timer);
		this.locks.clear();
	}

	/** Makes a subscription to `topic`; it receives what is sent to the topic from now on. */
	createSubscription(topic: string, subscription: string): void {
		const subscriptions = this.topics.get(topic) ?? new Set<string>();
		subscriptions.add(`${topic}/Subscriptions/${subscription}`);
		this.topics.set(topic, subscriptions);
	}

	// --- inspection for tests -------------------------------------------------------------

	entity(name: string): Entity {
		let e = this.entities.get(name);
		if (!e) {
			e = new Entity(name);
			this.entities.set(name, e);
		}
		return e;
	}

	/** Messages waiting or locked in `queue` (not dead-lettered). */
	pendingCount(queue: string): number {
		const locked = [...new Set(this.locks.values())].filter((l) => l.entity.name === queue).length;
		return this.entity(queue).available.length + locked;
	}

	/** Messages of `queue` locked by a receiver right now. */
	lockedCount(queue: string): number {
		return [...new Set(this.locks.values())].filter((l) => l.entity.name === queue).length;
	}

	deadLetters(queue: string): StoredMessage[] {
		return [...this.entity(`${queue}/$DeadLetterQueue`).available];
	}

	// --- links ------------------------------------------------------------------------------

	private onReceiverAttached(ctx: EventContext): void {
		const sender = ctx.sender as Sender;
		const address = entityName(remoteAttach(sender)?.source?.address);
		sender.set_source({ address });
		if (address === "$cbs" || address.endsWith("/$management")) return; // reply links
		if (this.refuseUnauthorized(sender, address, "Listen")) return;
		const entity = this.entity(address);
		entity.receivers.add(sender);
		sender.on("sender_close", () => entity.receivers.delete(sender));
		this.pump(entity);
	}

	/**
	 * With verifyToken, closes a link to an entity its connection may not use, as Service Bus does
	 * (amqp:unauthorized-access); answers whether it did.
	 */
	private refuseUnauthorized(link: Sender | Receiver, address: string, right: Right): boolean {
		if (!this.options.verifyToken || address === "$cbs" || address.endsWith("/$management")) return false;
		const rights = this.rights.get(link.connection);
		const description = !rights
			? `Unauthorized access. No token was put on $cbs for this connection. Resource: '${address}'.`
			: !rights.has(right)
				? `Unauthorized access. '${right}' claim(s) are required to perform this operation. Resource: '${address}'.`
				: undefined;
		if (!description) return false;
		this.refusals.push(description);
		link.close({ condition: "amqp:unauthorized-access", description });
		return true;
	}

	private onConnectionGone(connection: Connection): void {
		if (!this.connections.delete(connection)) return;
		for (const entity of this.entities.values()) {
			for (const s of entity.receivers) if (s.connection === connection) entity.receivers.delete(s);
		}
		// Locks held by a lost connection are released at once (the lock token is now useless).
		for (const lock of new Set(this.locks.values())) {
			if (lock.connection === connection) this.unlock(lock, "requeue");
		}
	}

	// --- incoming messages ------------------------------------------------------------------

	private onMessage(ctx: EventContext): void {
		const receiver = ctx.receiver;
		const target = entityName(receiver ? remoteAttach(receiver)?.target?.address : undefined);
		const msg = ctx.message as Message;
		if (target === "$cbs") {
			this.onPutToken(ctx, msg);
			return;
		}
		if (target.endsWith("/$management")) {
			this.onManagement(ctx, msg, target.slice(0, -"/$management".length));
			return;
		}
		const entity = this.entity(target);
		if (ctx.delivery?.format === BATCH_FORMAT) {
			// rhea hands a non-zero message format over undecoded: the batch envelope's data
			// sections each hold one encoded message.
			const envelope = rhea.message.decode(ctx.message as unknown as Buffer) as unknown as Message;
			const body = envelope.body as { content: Buffer | Buffer[]; multiple?: boolean };
			const parts = Array.isArray(body.content) && body.multiple ? body.content : [body.content as Buffer];
			for (const part of parts) this.enqueue(entity, rhea.message.decode(part) as unknown as Message);
		} else {
			this.enqueue(entity, msg);
		}
	}

	private onPutToken(ctx: EventContext, msg: Message): void {
		const ok = () => this.reply(ctx, msg, { "status-code": 200, "status-description": "OK" }, undefined);
		const verify = this.options.verifyToken;
		if (!verify) {
			ok();
			return;
		}
		const refuse = (description: string) => {
			this.refusals.push(description);
			this.reply(ctx, msg, { "status-code": 401, "status-description": description }, undefined);
		};
		const { type, name } = (msg.application_properties ?? {}) as { type?: string; name?: string };
		if (type !== "jwt") {
			refuse(`only Microsoft Entra ID tokens (jwt) are accepted, not ${type}`);
			return;
		}
		verify(String(msg.body), String(name)).then(
			(granted) => {
				const rights = this.rights.get(ctx.connection) ?? new Set<Right>();
				for (const r of granted) rights.add(r);
				this.rights.set(ctx.connection, rights);
				ok();
			},
			(err) => refuse(`InvalidToken: ${(err as Error).message}`),
		);
	}

	private enqueue(entity: Entity, message: Message, from?: StoredMessage): void {
		if (message.message_id === undefined) message.message_id = rhea.generate_uuid();
		const subscriptions = this.topics.get(entity.name);
		if (subscriptions) {
			entity.received.push(message);
			for (const name of subscriptions) this.enqueue(this.entity(name), { ...message });
			return;
		}
		entity.received.push(message);
		entity.available.push({
			sequenceNumber: ++this.sequence,
			enqueuedAt: new Date(),
			deliveryCount: from?.deliveryCount ?? 0,
			message,
			...(from?.deadLetterReason ? { deadLetterReason: from.deadLetterReason } : {}),
			...(from?.deadLetterDescription ? { deadLetterDescription: from.deadLetterDescription } : {}),
		});
		this.pump(entity);
	}

	private reply(
		ctx: EventContext,
		request: Message,
		properties: Record<string, unknown>,
		body: unknown,
	): void {
		// Answer on this connection's reply link for that node: the one whose target is the
		// request's reply_to if the client named one, else any (the SDK's $cbs link has none).
		const source = entityName(ctx.receiver ? remoteAttach(ctx.receiver)?.target?.address : undefined);
		const replyLinks = (s: Sender) => entityName(remoteAttach(s)?.source?.address) === source;
		const sender =
			ctx.connection.find_sender(
				(s: Sender) => replyLinks(s) && remoteAttach(s)?.target?.address === request.reply_to,
			) ?? ctx.connection.find_sender(replyLinks);
		sender?.send({
			correlation_id: request.message_id,
			...(request.reply_to ? { to: request.reply_to } : {}),
			application_properties: properties,
			body,
		});
	}

	private onManagement(ctx: EventContext, request: Message, queue: string): void {
		const operation = request.application_properties?.operation;
		const body = (request.body ?? {}) as Record<string, unknown>;
		// Every management operation here (peek, renew-lock) is a receiver's: it needs Listen.
		const rights = this.rights.get(ctx.connection);
		if (this.options.verifyToken && !rights?.has("Listen")) {
			const description = `Unauthorized access. '${rights ? "Listen" : "No token: Listen"}' claim(s) are required to perform this operation. Resource: '${queue}'.`;
			this.refusals.push(description);
			this.reply(ctx, request, { statusCode: 401, statusDescription: description }, undefined);
			return;
		}
		if (operation === "com.microsoft:renew-lock") {
			const tokens = (body["lock-tokens"] as Buffer[] | undefined) ?? [];
			const expirations: Date[] = [];
			for (const token of tokens) {
				const lock = this.locks.get(Buffer.from(token).toString("hex"));
				if (!lock) {
					this.reply(
						ctx,
						request,
						{
							statusCode: 410,
							errorCondition: "com.microsoft:message-lock-lost",
							statusDescription: "lock lost",
						},
						undefined,
					);
					return;
				}
				clearTimeout(lock.timer);
				this.renewals++;
				lock.lockedUntil = new Date(Date.now() + this.lockDurationMs);
				lock.timer = setTimeout(() => this.unlock(lock, "requeue"), this.lockDurationMs);
				expirations.push(lock.lockedUntil);
			}
			this.reply(ctx, request, { statusCode: 200 }, { expirations });
			return;
		}
		if (operation === "com.microsoft:peek-message") {
			const from = Number(body["from-sequence-number"] ?? 0);
			const count = Number(body["message-count"] ?? 1);
			const entity = this.entity(queue);
			const locked = [...new Set(this.locks.values())]
				.filter((l) => l.entity === entity)
				.map((l) => l.stored);
			const all = [...entity.available, ...locked]
				.filter((m) => m.sequenceNumber >= from)
				.sort((a, b) => a.sequenceNumber - b.sequenceNumber)
				.slice(0, count);
			if (all.length === 0) {
				this.reply(ctx, request, { statusCode: 204 }, { messages: [] });
				return;
			}
			const messages = all.map((m) => ({ message: rhea.message.encode(this.outgoing(m)) }));
			this.reply(ctx, request, { statusCode: 200 }, { messages });
			return;
		}
		this.reply(
			ctx,
			request,
			{ statusCode: 501, statusDescription: `not supported: ${String(operation)}` },
			undefined,
		);
	}

	// --- delivery -----------------------------------------------------------------------------

	private pumpAll(): void {
		for (const entity of this.entities.values()) this.pump(entity);
	}

	private pump(entity: Entity): void {
		for (const sender of entity.receivers) {
			if (!this.connections.has(sender.connection)) entity.receivers.delete(sender);
		}
		// One message at a time to the next receiver in turn that has credit: several receivers of
		// one entity (instances sharing a subscription) each get a share, as on Service Bus.
		const receivers = [...entity.receivers];
		while (entity.available.length > 0) {
			const i = receivers.findIndex((_, k) => {
				const s = receivers[(entity.turn + k) % receivers.length] as Sender;
				return this.creditLeft(s) > 0 && s.is_open();
			});
			if (i < 0) return;
			const sender = receivers[(entity.turn + i) % receivers.length] as Sender;
			entity.turn = (entity.turn + i + 1) % receivers.length;
			this.deliver(entity, sender, entity.available.shift() as StoredMessage);
		}
	}

	/**
	 * rhea lowers `credit` only when it writes the transfer, later in the tick: count what we
	 * handed it but it has not written yet, or a receiver granting 1 credit would get everything.
	 */
	private creditLeft(sender: Sender): number {
		const handed = this.handedOver.get(sender) ?? 0;
		const written = (sender as unknown as { delivery_count: number }).delivery_count;
		return (sender as unknown as { credit: number }).credit - (handed - written);
	}

	private outgoing(stored: StoredMessage, lockedUntil?: Date): Message {
		const m = stored.message;
		const properties = { ...(m.application_properties ?? {}) } as Record<string, unknown>;
		if (stored.deadLetterReason !== undefined) properties.DeadLetterReason = stored.deadLetterReason;
		if (stored.deadLetterDescription !== undefined)
			properties.DeadLetterErrorDescription = stored.deadLetterDescription;
		return {
			...m,
			delivery_count: stored.deliveryCount,
			application_properties: properties,
			message_annotations: {
				...(m.message_annotations ?? {}),
				"x-opt-sequence-number": stored.sequenceNumber,
				"x-opt-enqueued-time": stored.enqueuedAt,
				...(lockedUntil ? { "x-opt-locked-until": lockedUntil } : {}),
			},
		};
	}

	private deliver(entity: Entity, sender: Sender, stored: StoredMessage): void {
		const tag = Buffer.from(rhea.string_to_uuid(rhea.generate_uuid()));
		const lockedUntil = new Date(Date.now() + this.lockDurationMs);
		const delivery = sender.send(this.outgoing(stored, lockedUntil), tag);
		this.handedOver.set(sender, (this.handedOver.get(sender) ?? 0) + 1);
		stored.deliveryCount++;
		this.deliveries++;
		const keys = [tag.toString("hex"), reorder(tag).toString("hex")];
		const lock: Lock = {
			stored,
			entity,
			delivery,
			connection: sender.connection,
			lockedUntil,
			keys,
			timer: setTimeout(() => this.unlock(lock, "requeue"), this.lockDurationMs),
		};
		for (const k of keys) this.locks.set(k, lock);
		(delivery as unknown as { brokerLock: Lock }).brokerLock = lock;
	}

	private onSettle(ctx: EventContext, kind: "complete" | "abandon" | "dead-letter"): void {
		const delivery = ctx.delivery as Delivery & { brokerLock?: Lock };
		const lock = delivery.brokerLock;
		if (!lock || this.locks.get(lock.keys[0] as string) !== lock) {
			// The lock expired (the message went back to the queue): the settlement fails, as on Azure.
			delivery.update(
				true,
				(rhea.message as unknown as { rejected(o: unknown): { described(): unknown } })
					.rejected({
						error: {
							condition: "com.microsoft:message-lock-lost",
							description: "The lock supplied is invalid: it expired, or the message was already settled.",
						},
					})
					.described(),
			);
			return;
		}
		if (kind === "complete") {
			this.unlock(lock, "remove");
		} else if (kind === "abandon") {
			const state = delivery.remote_state as { undeliverable_here?: boolean } | undefined;
			this.unlock(lock, state?.undeliverable_here ? "remove" : "requeue");
		} else {
			const error = (delivery.remote_state as { error?: { info?: Record<string, string> } } | undefined)
				?.error;
			this.unlock(
				lock,
				"dead-letter",
				error?.info?.DeadLetterReason,
				error?.info?.DeadLetterErrorDescription,
			);
		}
		settle(delivery);
	}

	/** Ends a lock: the message is removed, put back (or dead-lettered past max delivery count). */
	private unlock(
		lock: Lock,
		outcome: "remove" | "requeue" | "dead-letter",
		reason?: string,
		description?: string,
	): void {
		clearTimeout(lock.timer);
		for (const k of lock.keys) this.locks.delete(k);
		const { stored, entity } = lock;
		if (outcome === "requeue" && stored.deliveryCount >= this.maxDeliveryCount) {
			outcome = "dead-letter";
			reason = "MaxDeliveryCountExceeded";
			description = `Message could not be consumed after ${this.maxDeliveryCount} delivery attempts.`;
		}
		if (outcome === "requeue") {
			entity.available.unshift(stored);
			entity.available.sort((a, b) => a.sequenceNumber - b.sequenceNumber);
			this.pump(entity);
		} else if (outcome === "dead-letter") {
			this.enqueue(this.entity(`${entity.name}/$DeadLetterQueue`), stored.message, {
				...stored,
				...(reason !== undefined ? { deadLetterReason: reason } : {}),
				...(description !== undefined ? { deadLetterDescription: description } : {}),
			});
		}
	}
}
