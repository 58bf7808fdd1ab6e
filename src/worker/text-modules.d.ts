// Files the Workers bundle imports as text (wrangler.toml `rules`, type "Text"): the board's files
// and Swagger UI's assets, which Node reads from disk instead.
declare module "*.html" {
	const text: string;
	export default text;
}
declare module "*.css" {
	const text: string;
	export default text;
}
declare module "*/board/board.js" {
	const text: string;
	export default text;
}
declare module "*/swagger-ui-dist/swagger-ui-bundle.js" {
	const text: string;
	export default text;
}
