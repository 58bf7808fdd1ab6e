// Running with no secret at all (issue #24): the service started as `npm start` runs it, with only
// TableStorage:ServiceUri (and ServiceBus:FullyQualifiedNamespace) set, takes its tokens from the
// managed-identity endpoint the platform provides (the tests' own, test/support/managed-identity.ts)
// through DefaultAzureCredential, and presents them to Azurite (OAuth, over HTTPS with a
// certificate the test makes) and to the Service Bus test broker (TLS, CBS `jwt` put-token).
// A token the service refuses (wrong audience, expired) is reported, never a crash.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, jwtVerify } from "jose";
import rhea from "rhea";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedAzurite, startEmbeddedAzurite } from "../../src/storage/embedded-azurite.js";
import { TestManagedIdentityEndpoint } from "../support/managed-identity.js";
import { createOrder, expectCreateChangeAndEvent, putStatus } from "../support/orders-client.js";
import { runService, type Service, startService } from "../support/process.js";
import { type Right, TestServiceBusBroker } from "../support/service-bus-broker.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";
import { makeTestCertificate, type TestCertificate } from "../support/tls.js";

let tls: TestCertificate;
let azurite: EmbeddedAzurite;
const dataDir = mkdtempSync(join(tmpdir(), "order-tracker-identity-"));
const services: Service[] = [];
const endpoints: TestManagedIdentityEndpoint[] = [];
const brokers: TestServiceBusBroker[] = [];

beforeAll(async () => {
	tls = await makeTestCertificate();
	azurite = await startEmbeddedAzurite({ https: { cert: tls.certPath, key: tls.keyPath }, oauth: true });
});
afterAll(async () => {
	for (const s of services) {
		s.child.kill("SIGTERM");
		await s.exited;
	}
	for (const e of endpoints) await e.close();
	for (const b of brokers) await b.close();
	await azurite?.close();
	tls?.remove();
	rmSync(dataDir, { recursive: true, force: true });
});

async function identityEndpoint(): Promise<TestManagedIdentityEndpoint> {
	const endpoint = await TestManagedIdentityEndpoint.start();
	endpoints.push(endpoint);
	return endpoint;
}

/** Only what a Container App with a user-assigned identity has: URLs, the identity endpoint, no key. */
function keylessEnvironment(endpoint: TestManagedIdentityEndpoint, extra: Record<string, string> = {}) {
	const env: Record<string, string> = {
		...endpoint.environment,
		NODE_EXTRA_CA_CERTS: tls.certPath, // trust the test's certificate as a machine trusts its CA
		TableStorage__ServiceUri: azurite.serviceUri,
		TableStorage__TableName: uniqueTableName("Mi"),
		Embedded__DataDir: dataDir, // not used: nothing may start embedded Azurite
		...extra,
	};
	for (const value of Object.values(env)) expect(value).not.toMatch(/AccountKey|SharedAccessKey/);
	return env;
}

async function start(env: Record<string, string>): Promise<Service> {
	const service = await startService(env, { timeoutMs: 40_000 });
	services.push(service);
	return service;
}

async function readiness(
	service: Service,
): Promise<{ status: number; body: { checks: Record<string, Record<string, unknown>> } }> {
	const res = await fetch(`${service.baseUrl}/health/ready`);
	return { status: res.status, body: await res.json() };
}

describe("Table Storage with a managed identity (TableStorage:ServiceUri)", () => {
	it("serves a create, a change and its SSE event with tokens from the identity endpoint, no key anywhere", async () => {
		const endpoint = await identityEndpoint();
		const svc = await start(keylessEnvironment(endpoint));
		expect(svc.output()).toMatch(
			/storage: Azure Table Storage at https:\/\/127\.0\.0\.1:\d+\/\S+ with a managed identity/,
		);
		expect(svc.output()).not.toMatch(/embedded Azurite/);
		await expectCreateChangeAndEvent(svc.baseUrl);
		expect((await readiness(svc)).status).toBe(200);
		// The user-assigned identity AZURE_CLIENT_ID names, for Azure Storage's audience.
		expect(endpoint.requests.length).toBeGreaterThan(0);
		for (const r of endpoint.requests)
			expect(r).toEqual({ resource: "https://storage.azure.com", clientId: endpoint.clientId });
		// Tokens are cached (one per hour, not one per request) and never written to the log.
		expect(endpoint.requests.length).toBeLessThanOrEqual(2);
		for (const token of endpoint.issued) expect(svc.output()).not.toContain(token.split(".")[2]);
	});

	it("a token with the wrong audience is refused by storage and reported: readiness says unauthorized, the log says why", async () => {
		const endpoint = await identityEndpoint();
		endpoint.audienceOverride = "https://wrong.example";
		const svc = await start(keylessEnvironment(endpoint));
		const ready = await readiness(svc);
		expect(ready.status).toBe(503);
		expect(ready.body.checks.store).toEqual({ status: "unavailable", reason: "unauthorized" });
		// The log is written asynchronously: wait for the line.
		await expect
			.poll(() => svc.output(), { timeout: 10_000 })
			.toMatch(/not ready: Table Storage did not answer at start \(unauthorized\).*audience/i);
		const create = await fetch(`${svc.baseUrl}/api/orders/create`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ CustomerName: "Ada", ProductName: "Engine" }),
		});
		expect(create.status).toBe(503);
		expect(create.headers.get("content-type")).toMatch(/application\/problem\+json/);
		// Stopped while still waiting for storage: it exits at once, cleanly.
		const stopping = Date.now();
		svc.child.kill("SIGTERM");
		expect(await svc.exited).toBe(0);
		expect(Date.now() - stopping).toBeLessThan(5000);
		expect(svc.output()).toMatch(/SIGTERM: stopping before start-up finished/);
	});

	it("renews its token before it expires: requests keep working past the first token's end", async () => {
		const endpoint = await identityEndpoint();
		endpoint.lifetimeSeconds = 20; // Azurite refuses a token past its exp
		const svc = await start(keylessEnvironment(endpoint));
		const firstExpires = Number(decodeJwt(endpoint.issued[0] as string).exp) * 1000;
		// Orders created through the first token's end and until 10 s past it, each answered 201
		// (createOrder checks): the last ones can only have carried a later token.
		let lastCreatedAt = 0;
		for (let i = 0; lastCreatedAt < firstExpires + 10_000; i++) {
			await createOrder(svc.baseUrl, { customerName: "Renewal", productName: `#${i}` });
			lastCreatedAt = Date.now();
			await new Promise((r) => setTimeout(r, 1000));
		}
		expect((await readiness(svc)).status).toBe(200);
		expect(endpoint.issued.length).toBeGreaterThan(1);
		for (const token of endpoint.issued) expect(svc.output()).not.toContain(token.split(".")[2]);
	}, 90_000);

	it("an expired token is refused by storage and reported", async () => {
		const endpoint = await identityEndpoint();
		endpoint.issueExpired = true;
		const svc = await start(keylessEnvironment(endpoint));
		const ready = await readiness(svc);
		expect(ready.status).toBe(503);
		expect(ready.body.checks.store).toMatchObject({ status: "unavailable", reason: "unauthorized" });
		// The log is written asynchronously: wait for the line.
		await expect
			.poll(() => svc.output(), { timeout: 10_000 })
			.toMatch(/not ready: Table Storage did not answer at start \(unauthorized\).*expired/i);
	});

	it("an identity the endpoint does not know (a wrong AZURE_CLIENT_ID) is reported, not a crash", async () => {
		const endpoint = await identityEndpoint();
		const svc = await start(
			keylessEnvironment(endpoint, { AZURE_CLIENT_ID: "00000000-0000-0000-0000-000000000000" }),
		);
		const ready = await readiness(svc);
		expect(ready.status).toBe(503);
		expect(ready.body.checks.store).toMatchObject({ status: "unavailable", reason: "unauthorized" });
		// The log is written asynchronously: wait for the line.
		await expect
			.poll(() => svc.output(), { timeout: 10_000 })
			.toMatch(/not ready: Table Storage did not answer at start \(unauthorized\).*Identity not found/);
		expect((await fetch(`${svc.baseUrl}/health/live`)).status).toBe(200);
	});

	it("refuses to start when both a connection string and a service URI are set, naming both keys", async () => {
		const { code, output } = await runService({
			TableStorage__ConnectionString: azurite.connectionString,
			TableStorage__ServiceUri: azurite.serviceUri,
		});
		expect(code).toBe(1);
		expect(output).toMatch(/TableStorage:ConnectionString and TableStorage:ServiceUri are both set/);
	});
});

/** The audience Service Bus tokens are for (what the SDK asks the identity endpoint for). */
const SERVICE_BUS_AUDIENCES = ["https://servicebus.azure.net", "https://servicebus.azure.net/"];

/**
 * A broker over TLS that takes only Entra ID tokens: signed by the identity endpoint's key, issued by
 * its tenant, for Service Bus; `roles` are the identity's role assignments on the namespace.
 */
async function keylessBroker(
	endpoint: TestManagedIdentityEndpoint,
	roles: Right[],
): Promise<TestServiceBusBroker> {
	const broker = await TestServiceBusBroker.start({
		tls: { cert: tls.cert, key: tls.key },
		verifyToken: async (token) => {
			const { payload } = await jwtVerify(token, endpoint.publicKey, {
				issuer: `https://sts.windows.net/${endpoint.tenantId}/`,
				audience: SERVICE_BUS_AUDIENCES,
			});
			return new Set(payload.oid === endpoint.principalId ? roles : []);
		},
	});
	brokers.push(broker);
	return broker;
}

function keylessServiceBus(endpoint: TestManagedIdentityEndpoint, broker: TestServiceBusBroker) {
	return keylessEnvironment(endpoint, {
		ServiceBus__FullyQualifiedNamespace: broker.fullyQualifiedNamespace,
		ServiceBus__QueueName: "warehouse-status",
	});
}

describe("Service Bus with a managed identity (ServiceBus:FullyQualifiedNamespace)", () => {
	it("sends and receives status changes over TLS with a CBS jwt token, no key anywhere", async () => {
		const endpoint = await identityEndpoint();
		const broker = await keylessBroker(endpoint, ["Send", "Listen"]);
		const svc = await start(keylessServiceBus(endpoint, broker));
		expect(svc.output()).toMatch(
			/status queue: Azure Service Bus queue warehouse-status on 127\.0\.0\.1:\d+ with a managed identity/,
		);
		const stream = new RecordingEventSource(`${svc.baseUrl}/orderHub`);
		try {
			await stream.opened();
			const order = await createOrder(svc.baseUrl, { CustomerName: "Ada", ProductName: "Engine" });
			expect((await putStatus(svc.baseUrl, order.orderId, "Processing")).status).toBe(202);
			await expect
				.poll(() => stream.of("ReceiveOrderUpdate").map((e) => [e.data.orderId, e.data.status]), {
					timeout: 20_000,
				})
				.toContainEqual([order.orderId, "Processing"]);
		} finally {
			stream.close();
		}
		const ready = await readiness(svc);
		expect(ready.status).toBe(200);
		expect(ready.body.checks.queue).toMatchObject({ status: "ok", kind: "service-bus" });
		expect(broker.deliveries).toBeGreaterThan(0);
		expect(broker.refusals).toEqual([]);
		const resources = new Set(endpoint.requests.map((r) => r.resource));
		expect([...resources].some((r) => SERVICE_BUS_AUDIENCES.includes(r))).toBe(true);
		for (const token of endpoint.issued) expect(svc.output()).not.toContain(token.split(".")[2]);
	});

	it("an identity without Azure Service Bus Data Receiver: readiness names the role, the log says to grant it", async () => {
		const endpoint = await identityEndpoint();
		const broker = await keylessBroker(endpoint, ["Send"]);
		// With the events topic too: its subscription's readiness check names the same role.
		const svc = await start({
			...keylessServiceBus(endpoint, broker),
			ServiceBus__TopicName: "order-events",
			ServiceBus__SubscriptionName: "replicas",
		});
		const refused = {
			status: "unavailable",
			reason: "unauthorized",
			missingRole: "Azure Service Bus Data Receiver",
		};
		await expect
			.poll(async () => (await readiness(svc)).body.checks.queue, { timeout: 20_000 })
			.toEqual(refused);
		await expect
			.poll(async () => (await readiness(svc)).body.checks.events, { timeout: 20_000 })
			.toEqual(refused);
		// The log is written asynchronously: wait for the line.
		await expect
			.poll(() => svc.output(), { timeout: 10_000 })
			.toMatch(/grant the service's identity the role \\?"Azure Service Bus Data Receiver/);
		// Said once per 30 s, not with each of the SDK's retries.
		const said = svc.output().match(/service bus receive: grant/g) ?? [];
		expect(said.length).toBeLessThanOrEqual(2);
	});

	it("an identity without Azure Service Bus Data Sender: readiness names the role before any PUT", async () => {
		const endpoint = await identityEndpoint();
		const broker = await keylessBroker(endpoint, ["Listen"]);
		const svc = await start(keylessServiceBus(endpoint, broker));
		await expect
			.poll(async () => (await readiness(svc)).body.checks.queue, { timeout: 20_000 })
			.toEqual({
				status: "unavailable",
				reason: "unauthorized",
				missingRole: "Azure Service Bus Data Sender",
			});
		await expect
			.poll(() => svc.output(), { timeout: 10_000 })
			.toMatch(/grant the service's identity the role \\?"Azure Service Bus Data Sender/);
	});

	it("a Service Bus token with the wrong audience is refused by the broker and reported", async () => {
		const endpoint = await identityEndpoint();
		endpoint.audienceOverride = "https://storage.azure.com";
		endpoint.audienceOverrideFor = "https://servicebus.azure.net";
		const broker = await keylessBroker(endpoint, ["Send", "Listen"]);
		const svc = await start(keylessServiceBus(endpoint, broker));
		await expect
			.poll(async () => (await readiness(svc)).body.checks.queue, { timeout: 20_000 })
			.toMatchObject({ status: "unavailable", reason: "unauthorized" });
		expect(broker.refusals.some((r) => /InvalidToken: .*aud/.test(r))).toBe(true);
		await expect
			.poll(() => svc.output(), { timeout: 10_000 })
			.toMatch(/readiness check queue failed \(unauthorized\).*aud/);
	});

	it("the broker refuses a connection that brings no token", async () => {
		const endpoint = await identityEndpoint();
		const broker = await keylessBroker(endpoint, ["Send", "Listen"]);
		const container = rhea.create_container();
		const connection = container.connect({
			host: "127.0.0.1",
			port: broker.port,
			transport: "tls",
			ca: tls.cert,
			servername: "localhost",
			reconnect: false,
		} as never);
		try {
			const refused = await new Promise<string>((resolve) => {
				const sender = connection.open_sender("warehouse-status");
				sender.on("sender_close", (ctx) => resolve(String(ctx.sender?.error?.condition ?? "")));
				sender.on("sender_error", (ctx) => resolve(String(ctx.sender?.error?.condition ?? "")));
			});
			expect(refused).toBe("amqp:unauthorized-access");
			expect(broker.refusals).toEqual([expect.stringMatching(/No token was put on \$cbs/)]);
		} finally {
			connection.close();
		}
	});

	it("refuses to start when both a connection string and a namespace are set, naming both keys", async () => {
		const { code, output } = await runService({
			ServiceBus__ConnectionString: "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=v",
			ServiceBus__FullyQualifiedNamespace: "example.servicebus.windows.net",
		});
		expect(code).toBe(1);
		expect(output).toMatch(/ServiceBus:ConnectionString and ServiceBus:FullyQualifiedNamespace are both set/);
	});
});
