import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>; components?: object };

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

/** The published document, checked against the OpenAPI 3.1 schema itself. */
export async function loadSpec(baseUrl: string): Promise<Doc> {
  const res = await fetch(`${baseUrl}/api/v1/openapi.json`);
  if (res.status !== 200) throw new Error(`openapi.json: ${res.status}`);
  const doc = (await res.json()) as Doc;
  const result = await new Validator().validate(doc as never);
  if (!result.valid) throw new Error(`the OpenAPI document is not valid: ${JSON.stringify(result.errors).slice(0, 2000)}`);
  return doc;
}

/**
 * Checks responses against the document: the status must be documented for the operation, and a
 * JSON body must match its schema (compiled with Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses).
 * Records which operations were exercised.
 */
export function responseChecker(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  const templates = Object.keys(doc.paths).map((tpl) => ({ tpl, re: new RegExp(`^${tpl.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
  const seen = new Set<string>();
  return {
    seen,
    operations: () => Object.entries(doc.paths).flatMap(([tpl, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${tpl}`)),
    check(method: string, url: string, status: number, body: unknown, contentType: string | null) {
      const path = new URL(url, 'http://x').pathname;
      const found = templates.filter((t) => t.re.test(path)).sort((a, b) => a.tpl.split('{').length - b.tpl.split('{').length)[0];
      if (!found) throw new Error(`${method} ${path}: not in the OpenAPI document`);
      const op = doc.paths[found.tpl]![method.toLowerCase()];
      if (!op) throw new Error(`${method} ${found.tpl}: not in the OpenAPI document`);
      seen.add(`${method.toUpperCase()} ${found.tpl}`);
      const response = op.responses[String(status)];
      if (!response) throw new Error(`${method} ${found.tpl}: status ${status} is not documented (${Object.keys(op.responses).join(', ')})`);
      const schema = response.content?.['application/json']?.schema;
      if (!schema) {
        if (body !== undefined && body !== '') throw new Error(`${method} ${found.tpl} ${status}: a body where none is documented`);
        return;
      }
      if (!contentType?.startsWith('application/json')) throw new Error(`${method} ${found.tpl} ${status}: content-type ${contentType}, documented JSON`);
      const key = `${method} ${found.tpl} ${status}`;
      let validate = compiled.get(key);
      if (!validate) {
        validate = ajv.compile({ ...schema, components: doc.components });
        compiled.set(key, validate);
      }
      if (!validate(body)) throw new Error(`${key}: the response does not match the schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
    },
  };
}
