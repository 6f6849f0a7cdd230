// Apollo Client with its own persisted-query link, as an application would set it up,
// against the server at `url`. argv[2] is JSON {url, token, useGET, steps: [{document,
// variables}]}; each step runs on a fresh client (empty hash cache and normalised cache, as
// after an app start). Prints {results: [{data, errorCodes, cacheKeys}], requests: [...]}:
// every HTTP request the link made, with whether it carried the text and the answer's status.
import { createHash } from "node:crypto";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const { url, token, useGET, steps } = JSON.parse(process.argv[2]);
const requests = [];

async function recordingFetch(input, init = {}) {
  const target = new URL(typeof input === "string" ? input : input.url);
  const body = typeof init.body === "string" ? JSON.parse(init.body) : {};
  const params = target.searchParams;
  const extensions = body.extensions ?? (params.get("extensions") ? JSON.parse(params.get("extensions")) : {});
  const response = await fetch(input, init);
  requests.push({
    method: (init.method ?? "GET").toUpperCase(),
    withText: Boolean(body.query ?? params.get("query")),
    hash: extensions.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    contentType: response.headers.get("content-type"),
  });
  return response;
}

function client() {
  const sha256 = (text) => createHash("sha256").update(text).digest("hex");
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([
      new PersistedQueryLink({ sha256, useGETForHashedQueries: Boolean(useGET) }),
      new HttpLink({ uri: url, fetch: recordingFetch, headers: token ? { authorization: `Bearer ${token}` } : {} }),
    ]),
  });
}

const results = [];
for (const step of steps) {
  const apollo = client();
  const document = gql(step.document);
  const mutation = document.definitions.some((d) => d.kind === "OperationDefinition" && d.operation === "mutation");
  try {
    const result = mutation
      ? await apollo.mutate({ mutation: document, variables: step.variables })
      : await apollo.query({ query: document, variables: step.variables, fetchPolicy: "network-only" });
    results.push({ data: result.data ?? null, errorCodes: [], cacheKeys: Object.keys(apollo.cache.extract()) });
  } catch (error) {
    const errors = error.errors ?? [];
    results.push({
      data: null,
      errorCodes: errors.map((e) => e.extensions?.code ?? null),
      message: String(error.message),
      cacheKeys: [],
    });
  }
  apollo.stop();
}
console.log(JSON.stringify({ results, requests }));
