// GraphQL-style API gateway (POST /graphql). Every request carries its query
// document as text; parsing it is the expensive part of a small request, so
// the gateway memoizes the parsed document by query text in a module-level
// Map (`parsedQueries`), with the operation's name, type, depth and field
// count for the cost limiter.
//
// The clients (web, iOS and Android apps, partner integrations) send a
// finite set of 1 000 distinct query documents. After a deploy the gateway
// starts cold and new distinct queries keep turning up at a steady rate
// (~10 a minute) as users go through every screen of every app version,
// until after ~100 minutes every query of the set has been seen; from then
// on every request is a memo hit and nothing is added. Traffic: 4 req/s.
import { buildBallast, listen, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x6a9e1);

// --- a small GraphQL parser ---------------------------------------------------

const PUNCT = new Set(['{', '}', '(', ')', ':', '!', '$', '=', '@', '[', ']', ',']);

function tokenize(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\n' || c === '\t' || c === ',' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '.' && text.startsWith('...', i)) {
      tokens.push({ kind: 'spread', value: '...', start: i, end: i + 3 });
      i += 3;
    } else if (PUNCT.has(c)) {
      tokens.push({ kind: 'punct', value: c, start: i, end: i + 1 });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      tokens.push({ kind: 'string', value: text.slice(i + 1, j), start: i, end: j + 1 });
      i = j + 1;
    } else if ((c >= '0' && c <= '9') || c === '-') {
      let j = i + 1;
      while (j < text.length && /[0-9.eE]/.test(text[j])) j++;
      tokens.push({ kind: 'number', value: text.slice(i, j), start: i, end: j });
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j])) j++;
      tokens.push({ kind: 'name', value: text.slice(i, j), start: i, end: j });
      i = j;
    } else {
      throw new SyntaxError(`unexpected character ${JSON.stringify(c)} at ${i}`);
    }
  }
  return tokens;
}

class Parser {
  constructor(text) {
    this.tokens = tokenize(text);
    this.pos = 0;
  }

  peek(value) {
    const token = this.tokens[this.pos];
    return token !== undefined && token.value === value;
  }

  expect(value) {
    const token = this.tokens[this.pos++];
    if (token === undefined || (value !== undefined && token.value !== value)) throw new SyntaxError(`expected ${value ?? 'a token'} at token ${this.pos}`);
    return token;
  }

  name() {
    const token = this.expect();
    if (token.kind !== 'name') throw new SyntaxError(`expected a name at ${token.start}`);
    return { kind: 'Name', value: token.value, loc: { start: token.start, end: token.end } };
  }

  document() {
    const definitions = [];
    while (this.pos < this.tokens.length) definitions.push(this.definition());
    return { kind: 'Document', definitions };
  }

  definition() {
    const start = this.tokens[this.pos].start;
    if (this.peek('fragment')) {
      this.expect('fragment');
      const name = this.name();
      this.expect('on');
      const typeCondition = { kind: 'NamedType', name: this.name() };
      const directives = this.directives();
      const selectionSet = this.selectionSet();
      return { kind: 'FragmentDefinition', name, typeCondition, directives, selectionSet, loc: { start, end: this.tokens[this.pos - 1].end } };
    }
    const operation = this.expect().value;
    const name = this.tokens[this.pos].kind === 'name' ? this.name() : undefined;
    const variableDefinitions = [];
    if (this.peek('(')) {
      this.expect('(');
      while (!this.peek(')')) {
        this.expect('$');
        const variable = { kind: 'Variable', name: this.name() };
        this.expect(':');
        const type = this.type();
        let defaultValue;
        if (this.peek('=')) {
          this.expect('=');
          defaultValue = this.value();
        }
        variableDefinitions.push({ kind: 'VariableDefinition', variable, type, defaultValue, directives: [] });
      }
      this.expect(')');
    }
    const directives = this.directives();
    const selectionSet = this.selectionSet();
    return { kind: 'OperationDefinition', operation, name, variableDefinitions, directives, selectionSet, loc: { start, end: this.tokens[this.pos - 1].end } };
  }

  type() {
    let type;
    if (this.peek('[')) {
      this.expect('[');
      type = { kind: 'ListType', type: this.type() };
      this.expect(']');
    } else {
      type = { kind: 'NamedType', name: this.name() };
    }
    if (this.peek('!')) {
      this.expect('!');
      type = { kind: 'NonNullType', type };
    }
    return type;
  }

  value() {
    const token = this.tokens[this.pos];
    if (token.value === '$') {
      this.expect('$');
      return { kind: 'Variable', name: this.name() };
    }
    this.pos++;
    if (token.kind === 'string') return { kind: 'StringValue', value: token.value };
    if (token.kind === 'number') return { kind: token.value.includes('.') ? 'FloatValue' : 'IntValue', value: token.value };
    if (token.value === 'true' || token.value === 'false') return { kind: 'BooleanValue', value: token.value === 'true' };
    return { kind: 'EnumValue', value: token.value };
  }

  directives() {
    const directives = [];
    while (this.peek('@')) {
      this.expect('@');
      directives.push({ kind: 'Directive', name: this.name(), arguments: this.arguments() });
    }
    return directives;
  }

  arguments() {
    const args = [];
    if (!this.peek('(')) return args;
    this.expect('(');
    while (!this.peek(')')) {
      const name = this.name();
      this.expect(':');
      args.push({ kind: 'Argument', name, value: this.value() });
    }
    this.expect(')');
    return args;
  }

  selectionSet() {
    const start = this.expect('{').start;
    const selections = [];
    while (!this.peek('}')) selections.push(this.selection());
    const end = this.expect('}').end;
    return { kind: 'SelectionSet', selections, loc: { start, end } };
  }

  selection() {
    const start = this.tokens[this.pos].start;
    if (this.peek('...')) {
      this.expect('...');
      if (this.peek('on')) {
        this.expect('on');
        const typeCondition = { kind: 'NamedType', name: this.name() };
        return { kind: 'InlineFragment', typeCondition, directives: this.directives(), selectionSet: this.selectionSet(), loc: { start, end: this.tokens[this.pos - 1].end } };
      }
      return { kind: 'FragmentSpread', name: this.name(), directives: this.directives(), loc: { start, end: this.tokens[this.pos - 1].end } };
    }
    let alias;
    let name = this.name();
    if (this.peek(':')) {
      this.expect(':');
      alias = name;
      name = this.name();
    }
    const args = this.arguments();
    const directives = this.directives();
    const selectionSet = this.peek('{') ? this.selectionSet() : undefined;
    return { kind: 'Field', alias, name, arguments: args, directives, selectionSet, loc: { start, end: this.tokens[this.pos - 1].end } };
  }
}

function measure(selectionSet, depth, stats) {
  if (depth > stats.depth) stats.depth = depth;
  for (const selection of selectionSet.selections) {
    if (selection.kind === 'Field') stats.fields++;
    if (selection.selectionSet !== undefined) measure(selection.selectionSet, depth + 1, stats);
  }
  return stats;
}

// --- the memo -----------------------------------------------------------------------

/** query text -> parsed document and what the cost limiter needs */
const parsedQueries = new Map();
const memo = { hits: 0, misses: 0, parseErrors: 0 };

function parseQuery(text) {
  const document = new Parser(text).document();
  const operation = document.definitions.find((d) => d.kind === 'OperationDefinition');
  const stats = measure(operation.selectionSet, 1, { depth: 0, fields: 0 });
  return { document, operationName: operation.name?.value ?? null, operationType: operation.operation, depth: stats.depth, fieldCount: stats.fields, parsedAt: programSeconds() };
}

function getParsed(text) {
  let parsed = parsedQueries.get(text);
  if (parsed !== undefined) {
    memo.hits++;
    return parsed;
  }
  memo.misses++;
  parsed = parseQuery(text);
  parsedQueries.set(text, parsed);
  return parsed;
}

// --- execution (stand-in resolvers) ----------------------------------------------------

function resolveSelection(selectionSet, variables, depth) {
  const out = {};
  for (const selection of selectionSet.selections) {
    if (selection.kind !== 'Field') continue;
    const key = selection.alias?.value ?? selection.name.value;
    if (selection.selectionSet === undefined) out[key] = key.endsWith('Id') || key === 'id' ? `${key}-${depth}` : depth;
    else if (depth < 3) out[key] = resolveSelection(selection.selectionSet, variables, depth + 1);
    else out[key] = null;
  }
  return out;
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const MAX_DEPTH = 12;

async function handler(req, res) {
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true, memoized: parsedQueries.size });
  if (req.method !== 'POST' || req.url !== '/graphql') return sendJson(res, 404, { error: 'not found' });
  let body;
  try {
    body = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
  } catch {
    return sendJson(res, 400, { errors: [{ message: 'invalid JSON body' }] });
  }
  let parsed;
  try {
    parsed = getParsed(body.query);
  } catch (err) {
    memo.parseErrors++;
    return sendJson(res, 400, { errors: [{ message: err.message }] });
  }
  if (parsed.depth > MAX_DEPTH) return sendJson(res, 400, { errors: [{ message: 'query too deep' }] });
  const operation = parsed.document.definitions.find((d) => d.kind === 'OperationDefinition');
  sendJson(res, 200, { data: resolveSelection(operation.selectionSet, body.variables ?? {}, 1) });
}

// --- the clients' finite set of query documents ----------------------------------------

const APPS = ['Web', 'Ios', 'Android', 'Partner', 'Backoffice'];
const SCREENS = ['Home', 'Search', 'Product', 'Cart', 'Checkout', 'Orders', 'OrderDetail', 'Account', 'Addresses', 'Wishlist', 'Reviews', 'Store', 'Returns', 'Payment', 'Loyalty'];
const ROOTS = ['viewer', 'product', 'products', 'cart', 'order', 'orders', 'search', 'store', 'recommendations'];
const OBJECT_FIELDS = ['price', 'brand', 'images', 'variants', 'seller', 'shipping', 'reviews', 'address', 'items', 'customer', 'inventory', 'promotions', 'category', 'payment'];
const SCALAR_FIELDS = ['id', 'name', 'title', 'slug', 'sku', 'amount', 'currency', 'url', 'width', 'height', 'status', 'createdAt', 'updatedAt', 'quantity', 'rating', 'count', 'description', 'available', 'label', 'code', 'productId', 'customerId'];

function fieldsFor(seed, depth, indent) {
  const r = rng(seed);
  const pad = '  '.repeat(indent);
  const lines = [];
  const scalars = new Set();
  const wanted = 3 + Math.floor(r() * 6);
  for (let i = 0; i < wanted; i++) scalars.add(SCALAR_FIELDS[Math.floor(r() * SCALAR_FIELDS.length)]);
  for (const scalar of scalars) lines.push(`${pad}${scalar}`);
  if (depth > 0) {
    const objects = 1 + Math.floor(r() * 3);
    for (let i = 0; i < objects; i++) {
      const field = OBJECT_FIELDS[Math.floor(r() * OBJECT_FIELDS.length)];
      const args = r() < 0.3 ? `(first: ${5 + Math.floor(r() * 20)})` : '';
      lines.push(`${pad}${field}${args} {\n${fieldsFor(seed * 31 + i + 7, depth - 1, indent + 1)}\n${pad}}`);
    }
  }
  if (r() < 0.2) lines.push(`${pad}... on Product {\n${pad}  id\n${pad}  sku\n${pad}  available\n${pad}}`);
  return lines.join('\n');
}

/** Query document number `i` of the clients' set (deterministic). */
function clientQuery(i) {
  const app = APPS[i % APPS.length];
  const screen = SCREENS[Math.floor(i / APPS.length) % SCREENS.length];
  const version = Math.floor(i / (APPS.length * SCREENS.length));
  const mutation = i % 7 === 3;
  const roots = [];
  const rootCount = 1 + (i % 3);
  for (let k = 0; k < rootCount; k++) {
    const root = ROOTS[(i * 5 + k * 3) % ROOTS.length];
    roots.push(`  ${root}(id: $id, locale: $locale) {\n${fieldsFor(i * 977 + k, 1 + ((i + k) % 3), 2)}\n  }`);
  }
  return `# ${app.toLowerCase()} app ${version}.${i % 10}.0\n${mutation ? 'mutation' : 'query'} ${app}${screen}V${version}Op${i}($id: ID!, $locale: String = "en-GB") {\n${roots.join('\n')}\n}\n`;
}

const CLIENT_QUERIES = 1000;
const NEW_QUERIES_PER_MINUTE = 10; // all 1 000 seen after ~100 min
const clients = { introduced: 0 };
const queryTexts = [];

function nextRequest() {
  if (random() < 0.03) return { method: 'GET', path: '/healthz' };
  const due = Math.min(CLIENT_QUERIES, Math.floor((programSeconds() * NEW_QUERIES_PER_MINUTE) / 60) + 1);
  let i;
  if (clients.introduced < due) {
    i = clients.introduced++;
    queryTexts.push(clientQuery(i));
  } else {
    // popular screens of popular apps get most of the traffic
    i = Math.floor(clients.introduced * random() ** 3);
  }
  const body = JSON.stringify({ query: queryTexts[i], variables: { id: `gid://shop/${Math.floor(random() * 1e6)}`, locale: 'en-GB' } });
  return { method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const traffic = selfRequests(port, { perSecond: 4, maxInFlight: 16, next: nextRequest });

reportStats(() => ({
  retained: parsedQueries.size,
  hits: memo.hits,
  misses: memo.misses,
  parseErrors: memo.parseErrors,
  clientQueriesSeen: clients.introduced,
  requestsFailed: traffic.failed,
}));

ready(`graphql-parsed-query-memo: GraphQL gateway memoizing parsed documents by query text, ${CLIENT_QUERIES} client queries discovered at ${NEW_QUERIES_PER_MINUTE}/min (all seen at ~100 min), 4 req/s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
