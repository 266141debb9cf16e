import fc from 'fast-check';

/**
 * fast-check arbitraries from the JSON Schemas in our OpenAPI document. Hand-written (about 60 lines)
 * because no well-kept library turns JSON Schema into fast-check arbitraries; it covers the keywords our
 * TypeBox schemas use. Each value is valid by the schema about half of the time and wrong in one place
 * otherwise (wrong type, out of range, pattern-breaking, extra or missing keys), so that cases reach both
 * the validator's edges and the handlers behind it.
 */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonSchema[];
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly pattern?: string;
  readonly default?: unknown;
}

/** Strings a handler may trip over: ids of known records, separators, unicode, control characters. */
export function nastyString(known: readonly string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      '',
      ' ',
      '..',
      '../../etc/passwd',
      '%00',
      '\u0000',
      '__proto__',
      'constructor',
      'a/b',
      '%2F',
      'x'.repeat(129),
      'x'.repeat(5000),
      '😀',
      '-1',
      'NaN',
      ...known,
    ),
  );
}

/** A value for `schema`, valid or invalid; `known` feeds ids of records that exist. */
export function fromSchema(schema: JsonSchema, known: readonly string[] = []): fc.Arbitrary<unknown> {
  const wrong = fc.oneof(fc.jsonValue({ maxDepth: 2 }), nastyString(known));
  return fc.oneof({ weight: 5, arbitrary: validish(schema, known) }, { weight: 1, arbitrary: wrong });
}

function validish(schema: JsonSchema, known: readonly string[]): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => fromSchema(s, known)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      const { minLength = 0, maxLength = 200 } = schema;
      const fitting = fc
        .stringMatching(schema.pattern ? new RegExp(schema.pattern) : /^.*$/)
        .filter((s) => s.length >= minLength && s.length <= maxLength);
      const options = [
        { weight: 2, arbitrary: fitting },
        { weight: 1, arbitrary: nastyString(known) },
      ];
      if (known.length > 0) options.push({ weight: 2, arbitrary: fc.constantFrom(...known) });
      return fc.oneof(...options);
    }
    case 'integer':
    case 'number': {
      const lo = schema.minimum ?? -1e6;
      const hi = schema.maximum ?? 1e6;
      return fc.oneof(
        fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }),
        fc.constantFrom(lo - 1, hi + 1, 0, -0, 1.5, Number.MAX_SAFE_INTEGER),
      );
    }
    case 'boolean':
      return fc.oneof(fc.boolean(), fc.constantFrom('true', 'false', 0, 1, 'yes'));
    case 'array':
      return fc.array(schema.items ? fromSchema(schema.items, known) : fc.jsonValue(), { maxLength: 4 });
    case 'object': {
      const props = Object.entries(schema.properties ?? {});
      const fields = Object.fromEntries(props.map(([k, s]) => [k, fromSchema(s, known)]));
      // Required keys are present most of the time; any key may go missing.
      const record = fc.oneof(
        { weight: 4, arbitrary: fc.record(fields, { requiredKeys: [...(schema.required ?? [])] }) },
        { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
      );
      const extra = fc.dictionary(nastyString(), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 });
      return fc.tuple(record, fc.option(extra, { freq: 4 })).map(([r, e]) => ({ ...(e ?? {}), ...r }));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}
