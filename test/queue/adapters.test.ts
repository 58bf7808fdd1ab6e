// Every StatusQueue adapter against the port's contract (./contract.ts): in-process (Node),
// in-isolate (Workers), Service Bus over AMQP with the unmodified SDK against the test broker, and
// Service Bus over REST against the REST test broker.
import { InIsolateStatusQueue } from "../../src/queue/in-isolate.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import { ServiceBusStatusQueue } from "../../src/queue/service-bus.js";
import { ServiceBusRestQueue } from "../../src/queue/service-bus-rest.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { startRestBroker } from "../support/service-bus-rest-broker.js";
import { describeStatusQueueContract } from "./contract.js";

describeStatusQueueContract("in-process", async () => {
	const queue = new InProcessStatusQueue({ retryDelayMs: 20 });
	return { queue, dispose: () => queue.close() };
});

describeStatusQueueContract("in-isolate", async () => {
	const work: Promise<unknown>[] = [];
	const queue = new InIsolateStatusQueue({ defer: (w) => work.push(w), retryDelayMs: 20 });
	return {
		queue,
		dispose: async () => {
			await queue.close();
			await Promise.all(work);
		},
	};
});

describeStatusQueueContract("Service Bus (AMQP, test broker)", async () => {
	const broker = await TestServiceBusBroker.start({ maxDeliveryCount: 5, lockDurationMs: 10_000 });
	const queue = new ServiceBusStatusQueue({
		connectionString: broker.connectionString,
		queueName: "contract",
	});
	return {
		queue,
		dispose: async () => {
			await queue.close();
			await broker.close();
		},
	};
});

describeStatusQueueContract(
	"Service Bus (REST, test broker)",
	async () => {
		const broker = await startRestBroker();
		const queue = new ServiceBusRestQueue({
			connectionString: broker.connectionString(),
			queueName: "contract",
			receiveWaitSeconds: 1,
		});
		return {
			queue,
			dispose: async () => {
				await queue.close();
				await broker.close();
			},
		};
	},
	{ deadLetters: false },
);
