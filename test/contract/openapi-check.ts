/**
 * Checks HTTP answers against the OpenAPI document the service publishes: the status must be one the
 * operation documents (an undocumented status is a failure, not a pass), the content type one of its
 * media types, the body valid against that media type's schema (ajv, JSON Schema 2020-12), and each
 * documented header present when required and valid when present. Also counts what was checked, so a
 * test can require every operation to have been seen.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, Json>>;
  components: Json & { responses?: Record<string, Json>; headers?: Record<string, Json> };
}

/** What a test received: an `app.inject` answer, or the start of a streamed one. */
export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** Where the document's components live for ajv, which resolves `#/components/…` against it. */
const DOCUMENT_ID = 'https://tpcs.invalid/openapi.json';
/**
 * Keywords ajv's strict mode must know: OpenAPI's `example` inside schemas, and `components`, the
 * member of the registered root that holds the document's schemas.
 */
const OPENAPI_KEYWORDS = ['example', 'components'];

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'];

/** An operation of the document: its method and path template. */
export interface OperationRef {
  method: string;
  path: string;
}

/** Every operation of the document, by operationId. */
export function operationsOf(doc: OpenApiDocument): Map<string, OperationRef> {
  const operations = new Map<string, OperationRef>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const id = (operation as { operationId?: string }).operationId;
      if (id === undefined || operations.has(id)) throw new Error(`${method} ${path}: no unique operationId`);
      operations.set(id, { method: method.toUpperCase(), path });
    }
  }
  return operations;
}

/** The media type without parameters, lower case: `application/json` of `application/json; charset=utf-8`. */
function essence(mediaType: string): string {
  return (mediaType.split(';')[0] ?? '').trim().toLowerCase();
}

/** `version=0.0.4` of `text/plain; version=0.0.4`, as `name=value` strings. */
function parameters(mediaType: string): string[] {
  return mediaType
    .split(';')
    .slice(1)
    .map((p) => p.trim().toLowerCase().replace(/\s+/g, ''))
    .filter((p) => p !== '');
}

export class OpenApiChecker {
  readonly #doc: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #operations: Map<string, OperationRef>;
  /** operationId → statuses seen. */
  readonly seen = new Map<string, Set<number>>();
  /** Answers checked. */
  answers = 0;

  constructor(doc: OpenApiDocument) {
    this.#doc = doc;
    this.#operations = operationsOf(doc);
    this.#ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, validateFormats: false });
    this.#ajv.addVocabulary(OPENAPI_KEYWORDS);
    this.#ajv.addSchema({ $id: DOCUMENT_ID, components: doc.components });
  }

  /** The method and path template of operation `id`. */
  operation(id: string): OperationRef {
    const found = this.#operations.get(id);
    if (!found) throw new Error(`no operation ${id} in the document`);
    return found;
  }

  /** Whether the document says operation `id` takes `body` as its JSON request body. */
  acceptsBody(id: string, body: unknown): boolean {
    const { method, path } = this.operation(id);
    const operation = this.#doc.paths[path]?.[method.toLowerCase()] as {
      requestBody?: { content: Record<string, { schema: Json }> };
    };
    const schema = operation.requestBody?.content['application/json']?.schema;
    if (!schema) throw new Error(`${id} documents no JSON request body`);
    return this.#validator(`${id} request body`, schema)(body);
  }

  /** The operations seen, and the distinct operation-status pairs among the answers. */
  get counts(): { operations: number; pairs: number; answers: number } {
    let pairs = 0;
    for (const statuses of this.seen.values()) pairs += statuses.size;
    return { operations: this.seen.size, pairs, answers: this.answers };
  }

  /**
   * Every way `answer` departs from what the document says operation `id` answers; empty when it
   * conforms. Records the status as seen for the operation.
   */
  check(id: string, answer: Answer): string[] {
    this.answers++;
    const found = this.#operations.get(id);
    if (!found) return [`${id} is not an operation of the document`];
    const { method, path } = found;
    const operation = this.#doc.paths[path]?.[method.toLowerCase()] as { responses?: Record<string, Json> };
    const name = `${id} (${method} ${path})`;
    const seen = this.seen.get(id) ?? new Set<number>();
    seen.add(answer.statusCode);
    this.seen.set(id, seen);

    const documented = operation.responses?.[String(answer.statusCode)];
    if (!documented) {
      return [
        `${name} answered ${answer.statusCode}, which it does not document (${Object.keys(operation.responses ?? {}).join(', ')}): ${answer.body.slice(0, 300)}`,
      ];
    }
    const response = this.#resolve(documented);
    const pointer = `#/paths/${pointerPart(path)}/${method.toLowerCase()}/responses/${answer.statusCode}`;
    return [
      ...this.#checkHeaders(name, answer, (response.headers ?? {}) as Record<string, Json>),
      ...this.#checkContent(pointer, answer, response.content as Record<string, Json> | undefined),
    ].map((problem) => `${name} ${answer.statusCode}: ${problem}`);
  }

  #resolve(value: Json): Json {
    const ref = value.$ref;
    if (typeof ref !== 'string') return value;
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>(
        (node, key) => (node as Json | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')],
        this.#doc,
      );
    if (typeof target !== 'object' || target === null) throw new Error(`unresolved ${ref}`);
    return this.#resolve(target as Json);
  }

  #checkHeaders(name: string, answer: Answer, headers: Record<string, Json>): string[] {
    const problems: string[] = [];
    for (const [header, declared] of Object.entries(headers)) {
      const spec = this.#resolve(declared);
      const raw = answer.headers[header.toLowerCase()];
      if (raw === undefined) {
        if (spec.required === true) problems.push(`header ${header} is required but absent`);
        continue;
      }
      const schema = spec.schema as Json;
      const text = String(raw);
      const value = schema.type === 'integer' && /^-?\d+$/.test(text) ? Number(text) : text;
      const validate = this.#validator(`${name} header ${header}`, schema);
      if (!validate(value)) problems.push(`header ${header}: ${JSON.stringify(text)} ${describe(validate)}`);
    }
    return problems;
  }

  #checkContent(pointer: string, answer: Answer, content: Record<string, Json> | undefined): string[] {
    if (content === undefined) {
      return answer.body === '' ? [] : [`documents no body, but one came: ${answer.body.slice(0, 200)}`];
    }
    const received = String(answer.headers['content-type'] ?? '');
    const media = Object.keys(content).find(
      (type) =>
        essence(type) === essence(received) &&
        parameters(type).every((p) => parameters(received).includes(p)),
    );
    if (media === undefined) {
      return [`content type ${JSON.stringify(received)} is none of ${Object.keys(content).join(', ')}`];
    }
    const schema = (content[media] as Json).schema as Json | undefined;
    if (schema === undefined) return [];
    let body: unknown = answer.body;
    if (essence(media) === 'application/json') {
      try {
        body = JSON.parse(answer.body);
      } catch {
        return [`the body is not JSON: ${answer.body.slice(0, 200)}`];
      }
    }
    const validate = this.#validator(`${pointer}/content/${media}`, schema);
    return validate(body) ? [] : [`body ${describe(validate)}: ${answer.body.slice(0, 300)}`];
  }

  #validator(key: string, schema: Json): ValidateFunction {
    let validate = this.#validators.get(key);
    if (!validate) {
      // `#/components/…` in the schema means the document's components, registered under DOCUMENT_ID
      const located = JSON.parse(
        JSON.stringify(schema).replaceAll('"#/components/', `"${DOCUMENT_ID}#/components/`),
      );
      validate = this.#ajv.compile(located as Json);
      this.#validators.set(key, validate);
    }
    return validate;
  }
}

function pointerPart(path: string): string {
  return path.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describe(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
