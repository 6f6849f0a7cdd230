// graphql-http's GraphQL-over-HTTP audits against the server at argv[2] (…/graphql):
// prints one JSON line per audit {id, name, status, reason} and exits 0.
import { serverAudits } from "graphql-http";

const url = process.argv[2];
const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null });
}
for (const r of results) console.log(JSON.stringify(r));
