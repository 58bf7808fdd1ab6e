// TEST INFRASTRUCTURE: a certificate for 127.0.0.1 and localhost that the test makes (selfsigned),
// written to a temp folder: the test servers serve it, and the service process trusts it through
// NODE_EXTRA_CA_CERTS, as a machine trusts a private CA.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface TestCertificate {
	certPath: string;
	keyPath: string;
	cert: string;
	key: string;
	remove(): void;
}

export async function makeTestCertificate(): Promise<TestCertificate> {
	const pems = await generate([{ name: "commonName", value: "localhost" }], {
		keySize: 2048,
		notAfterDate: new Date(Date.now() + 24 * 3600_000),
		extensions: [
			{ name: "basicConstraints", cA: true },
			{ name: "keyUsage", digitalSignature: true, keyEncipherment: true, keyCertSign: true },
			{ name: "extKeyUsage", serverAuth: true },
			{
				name: "subjectAltName",
				altNames: [
					{ type: 2, value: "localhost" },
					{ type: 7, ip: "127.0.0.1" },
				],
			},
		],
	});
	const dir = mkdtempSync(join(tmpdir(), "order-tracker-tls-"));
	const certPath = join(dir, "cert.pem");
	const keyPath = join(dir, "key.pem");
	writeFileSync(certPath, pems.cert);
	writeFileSync(keyPath, pems.private);
	return {
		certPath,
		keyPath,
		cert: pems.cert,
		key: pems.private,
		remove: () => rmSync(dir, { recursive: true, force: true }),
	};
}
