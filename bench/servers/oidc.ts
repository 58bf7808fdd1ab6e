// An OpenID provider for the auth benchmark (the tests' own, test/support/oidc-provider.ts), in its
// own process: prints its issuer, the audience, and a token that may do everything for an hour.
import { AUDIENCE, TestOidcProvider } from "../../test/support/oidc-provider.js";

const idp = await TestOidcProvider.start();
const token = await idp.sign(
	"bench-user",
	["Orders.Create", "Orders.Read", "Orders.ReadAll", "Orders.UpdateStatus"],
	{
		expiresIn: 3600,
	},
);
console.log(JSON.stringify({ issuer: idp.issuer, audience: AUDIENCE, token }));
process.on("SIGTERM", async () => {
	await idp.close();
	process.exit(0);
});
