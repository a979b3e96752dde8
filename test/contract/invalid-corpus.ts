/**
 * Invalid payloads, each with the problem it must produce. Most break one thing in a seed example,
 * so they must produce exactly that one problem (`count` says otherwise where more are expected).
 * `jsonSchema: 'cannot'` marks rules JSON Schema cannot express (the schema test skips them).
 */
import { fixtures } from '../../src/contract/index.js';
import { bytes, utf8, withChange } from './helpers.js';

export interface InvalidCase {
  name: string;
  body: string | Uint8Array;
  path: string;
  message: string;
  count?: number;
  /** Not JSON, or a rule JSON Schema cannot state: the schema comparison skips these. */
  jsonSchema?: 'cannot';
}

const approved = fixtures.approved;
const rejected = fixtures.rejected;
const NOT_JSON = 'cannot' as const;

export const invalidCorpus: InvalidCase[] = [
  // The body as a whole.
  { name: 'empty body', body: '', path: '$', message: 'is empty', jsonSchema: NOT_JSON },
  { name: 'empty bytes', body: new Uint8Array(0), path: '$', message: 'is empty', jsonSchema: NOT_JSON },
  { name: 'whitespace only', body: ' \n\t\r ', path: '$', message: 'is empty', jsonSchema: NOT_JSON },
  { name: 'null', body: 'null', path: '$', message: 'must be a JSON object (the event), but is null' },
  { name: 'array', body: `[${approved}]`, path: '$', message: 'but is an array' },
  { name: 'string', body: '"THIRD PARTY CUSTOMER STATUS"', path: '$', message: 'but is the string' },
  { name: 'number', body: '42', path: '$', message: 'but is the number 42' },
  { name: 'boolean', body: 'true', path: '$', message: 'but is the boolean true' },
  { name: 'empty object', body: '{}', path: '$.event_id', message: 'is required', count: 5 },

  // Malformed JSON, with positions.
  {
    name: 'truncated',
    body: approved.slice(0, 40),
    path: '$',
    message: 'closing double quote',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'truncated after value',
    body: approved.slice(0, -2),
    path: '$',
    message: 'the body ends there',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'trailing comma in object',
    body: approved.replace('"APPROVED" }', '"APPROVED", }'),
    path: '$',
    message: 'a property name in double quotes',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'trailing comma in array',
    body: rejected.replace('} ] }', '}, ] }'),
    path: '$',
    message: 'expected a value',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'trailing garbage',
    body: `${approved} x`,
    path: '$',
    message: 'expected the end of the body',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'two documents',
    body: `${approved}\n${approved}`,
    path: '$',
    message: 'at line 2, column 1, expected the end of the body',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'single quotes',
    body: "{'event_id': '1'}",
    path: '$',
    message: 'at line 1, column 2, expected a property name',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'missing colon',
    body: approved.replace('"event_id":', '"event_id"'),
    path: '$',
    message: 'expected ":"',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'missing comma',
    body: approved.replace('"3",', '"3"'),
    path: '$',
    message: 'expected "," or "}" in an object',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'leading zero',
    body: '{"a": 01}',
    path: '$',
    message: 'expected "," or "}"',
    jsonSchema: NOT_JSON,
  },
  { name: 'NaN', body: '{"a": NaN}', path: '$', message: 'expected a value', jsonSchema: NOT_JSON },
  {
    name: 'dangling decimal point',
    body: '{"a": 1.}',
    path: '$',
    message: 'a digit after the decimal point',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'empty exponent',
    body: '{"a": 1e}',
    path: '$',
    message: 'a digit in the exponent',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'raw newline in a string',
    body: approved.replace('"CUST_001"', '"CUST\n001"'),
    path: '$',
    message: 'no raw control character',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'bad escape',
    body: approved.replace('"CUST_001"', '"CUST\\x01"'),
    path: '$',
    message: 'an escape',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'bad unicode escape',
    body: approved.replace('"CUST_001"', '"CUST\\u00G1"'),
    path: '$',
    message: 'four hex digits',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'comment',
    body: `// event\n${approved}`,
    path: '$',
    message: 'at line 1, column 1, expected a value',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'error on line 3',
    body: '{\n  "event_id": "1"\n  "event_type": "x"\n}',
    path: '$',
    message: 'at line 3, column 3',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'two byte order marks',
    body: `\uFEFF\uFEFF${approved}`,
    path: '$',
    message: 'expected a value',
    jsonSchema: NOT_JSON,
  },

  // Bytes that are not UTF-8.
  {
    name: 'invalid byte',
    body: bytes(utf8('{"a":"'), [0xff], utf8('"}')),
    path: '$',
    message: 'not valid UTF-8: the bytes starting at byte offset 6',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'UTF-16 with BOM',
    body: Uint8Array.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
    path: '$',
    message: 'not valid UTF-8',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'overlong encoding',
    body: bytes(utf8('{"a":"'), [0xc0, 0xaf], utf8('"}')),
    path: '$',
    message: 'byte offset 6',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'encoded surrogate',
    body: bytes(utf8('{"a":"'), [0xed, 0xa0, 0x80], utf8('"}')),
    path: '$',
    message: 'not valid UTF-8',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'truncated sequence at the end',
    body: bytes(utf8(approved), [0xc3]),
    path: '$',
    message: `byte offset ${utf8(approved).length}`,
    jsonSchema: NOT_JSON,
  },
  {
    name: 'Latin-1 text',
    body: bytes(utf8(approved.replace('CUST_001', 'CUST')), utf8(''), [0xe9]),
    path: '$',
    message: 'not valid UTF-8',
    jsonSchema: NOT_JSON,
  },

  // Duplicate and forbidden keys.
  {
    name: 'duplicate top-level key',
    body: approved.replace('"event_id": "3",', '"event_id": "3", "event_id": "4",'),
    path: '$.event_id',
    message: 'appears more than once',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'duplicate status',
    body: approved.replace('"status": "APPROVED"', '"status": "REJECTED", "status": "APPROVED"'),
    path: '$.data.status',
    message: 'more than once in the same object (again at line 1, column',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'duplicate in a reason',
    body: rejected.replace(
      '"code": "COMPLIANCE_CHECK_FAILED"',
      '"code": "A", "code": "COMPLIANCE_CHECK_FAILED"',
    ),
    path: '$.data.reasons[0].code',
    message: 'more than once',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'duplicate spelled with an escape',
    body: approved.replace('"event_id": "3",', '"event_id": "3", "\\u0065vent_id": "3",'),
    path: '$.event_id',
    message: 'more than once',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'duplicate inside an unknown field',
    body: approved.replace('"event_id": "3",', '"event_id": "3", "extra": [{"x": 1, "x": 1}],'),
    path: '$.extra[0].x',
    message: 'more than once',
    jsonSchema: NOT_JSON,
  },
  {
    name: 'duplicate odd key',
    body: approved.replace('"event_id": "3",', '"event_id": "3", "a b": 1, "a b": 2,'),
    path: '$["a b"]',
    message: 'more than once',
    jsonSchema: NOT_JSON,
  },
  {
    name: '__proto__ key',
    body: approved.replace('"status": "APPROVED"', '"status": "APPROVED", "__proto__": {"x": 1}'),
    path: '$.data.__proto__',
    message: 'not an accepted key name',
    jsonSchema: NOT_JSON,
  },

  // Missing fields.
  ...(['event_id', 'event_type', 'version', 'event_timestamp', 'data'] as const).map((field) => ({
    name: `missing ${field}`,
    body: withChange((e) => delete e[field]),
    path: `$.${field}`,
    message: `${field} is required`,
  })),
  ...(['customer_id', 'client_customer_ref', 'status'] as const).map((field) => ({
    name: `missing data.${field}`,
    body: withChange((e) => delete e.data[field]),
    path: `$.data.${field}`,
    message: `data.${field} is required`,
  })),

  // event_id.
  {
    name: 'numeric event_id',
    body: withChange((e) => (e.event_id = 1)),
    path: '$.event_id',
    message: 'must be a string, but is the number 1',
  },
  {
    name: 'empty event_id',
    body: withChange((e) => (e.event_id = '')),
    path: '$.event_id',
    message: 'must not be empty',
  },
  {
    name: 'event_id with a dot',
    body: withChange((e) => (e.event_id = 'evt.1')),
    path: '$.event_id',
    message: 'must not contain "."',
  },
  {
    name: 'event_id with a space',
    body: withChange((e) => (e.event_id = 'evt 1')),
    path: '$.event_id',
    message: 'visible ASCII',
  },
  {
    name: 'event_id with a newline',
    body: withChange((e) => (e.event_id = 'evt\n1')),
    path: '$.event_id',
    message: 'visible ASCII',
  },
  {
    name: 'non-ASCII event_id',
    body: withChange((e) => (e.event_id = 'évènement')),
    path: '$.event_id',
    message: 'visible ASCII',
  },

  // event_type.
  {
    name: 'lower-case event_type',
    body: withChange((e) => (e.event_type = 'third party customer status')),
    path: '$.event_type',
    message: 'must be exactly "THIRD PARTY CUSTOMER STATUS", but is the string',
  },
  {
    name: 'other event_type',
    body: withChange((e) => (e.event_type = 'THIRD_PARTY_CUSTOMER_STATUS')),
    path: '$.event_type',
    message: 'must be exactly',
  },
  {
    name: 'null event_type',
    body: withChange((e) => (e.event_type = null)),
    path: '$.event_type',
    message: 'but is null',
  },

  // version.
  {
    name: 'version v2',
    body: withChange((e) => (e.version = 'v2.0.0')),
    path: '$.version',
    message: 'major version 2, which this receiver does not support; supported major versions: v1.x.y',
  },
  {
    name: 'version v0',
    body: withChange((e) => (e.version = 'v0.9.0')),
    path: '$.version',
    message: 'major version 0',
  },
  {
    name: 'version v2 hides other problems',
    body: withChange((e) => {
      e.version = 'v2.1.0';
      e.event_type = 'X';
      delete (e as Record<string, unknown>).data;
    }),
    path: '$.version',
    message: 'supported major versions: v1',
  },
  {
    name: 'version without v',
    body: withChange((e) => (e.version = '1.0.0')),
    path: '$.version',
    message: 'must be a version like "v1.0.0"',
  },
  {
    name: 'version with two parts',
    body: withChange((e) => (e.version = 'v1.0')),
    path: '$.version',
    message: 'like "v1.0.0"',
  },
  {
    name: 'version with leading zero',
    body: withChange((e) => (e.version = 'v01.0.0')),
    path: '$.version',
    message: 'like "v1.0.0"',
  },
  {
    name: 'version with pre-release',
    body: withChange((e) => (e.version = 'v1.0.0-beta')),
    path: '$.version',
    message: 'supported major versions: v1',
  },
  {
    name: 'numeric version',
    body: withChange((e) => (e.version = 1)),
    path: '$.version',
    message: 'must be a string, but is the number 1',
  },

  // event_timestamp: format.
  {
    name: 'timestamp without Z',
    body: withChange((e) => (e.event_timestamp = '2025-01-01T00:00:00')),
    path: '$.event_timestamp',
    message: 'YYYY-MM-DDTHH:MM:SSZ',
  },
  {
    name: 'timestamp with milliseconds',
    body: withChange((e) => (e.event_timestamp = '2025-01-01T00:00:00.000Z')),
    path: '$.event_timestamp',
    message: 'whole seconds',
  },
  {
    name: 'timestamp with offset',
    body: withChange((e) => (e.event_timestamp = '2025-01-01T00:00:00+00:00')),
    path: '$.event_timestamp',
    message: 'YYYY-MM-DDTHH:MM:SSZ',
  },
  {
    name: 'timestamp with a space',
    body: withChange((e) => (e.event_timestamp = '2025-01-01 00:00:00Z')),
    path: '$.event_timestamp',
    message: 'YYYY-MM-DDTHH:MM:SSZ',
  },
  {
    name: 'date only',
    body: withChange((e) => (e.event_timestamp = '2025-01-01')),
    path: '$.event_timestamp',
    message: 'YYYY-MM-DDTHH:MM:SSZ',
  },
  {
    name: 'epoch seconds',
    body: withChange((e) => (e.event_timestamp = 1735689600)),
    path: '$.event_timestamp',
    message: 'must be a string, but is the number',
  },
  // event_timestamp: instants that do not exist.
  {
    name: 'February 30',
    body: withChange((e) => (e.event_timestamp = '2025-02-30T00:00:00Z')),
    path: '$.event_timestamp',
    message: 'February 2025 has 28 days, so day 30 does not exist',
    jsonSchema: 'cannot',
  },
  {
    name: 'February 29 of a common year',
    body: withChange((e) => (e.event_timestamp = '2025-02-29T12:00:00Z')),
    path: '$.event_timestamp',
    message: 'February 2025 has 28 days',
    jsonSchema: 'cannot',
  },
  {
    name: 'February 29 of 1900',
    body: withChange((e) => (e.event_timestamp = '1900-02-29T12:00:00Z')),
    path: '$.event_timestamp',
    message: 'February 1900 has 28 days',
    jsonSchema: 'cannot',
  },
  {
    name: 'April 31',
    body: withChange((e) => (e.event_timestamp = '2024-04-31T00:00:00Z')),
    path: '$.event_timestamp',
    message: 'April 2024 has 30 days',
    jsonSchema: 'cannot',
  },
  {
    name: 'month 13',
    body: withChange((e) => (e.event_timestamp = '2025-13-01T00:00:00Z')),
    path: '$.event_timestamp',
    message: 'there is no month 13',
  },
  {
    name: 'month 0',
    body: withChange((e) => (e.event_timestamp = '2025-00-10T00:00:00Z')),
    path: '$.event_timestamp',
    message: 'there is no month 0',
  },
  {
    name: 'day 0',
    body: withChange((e) => (e.event_timestamp = '2025-01-00T00:00:00Z')),
    path: '$.event_timestamp',
    message: 'day 0 does not exist',
  },
  {
    name: 'hour 24',
    body: withChange((e) => (e.event_timestamp = '2025-01-01T24:00:00Z')),
    path: '$.event_timestamp',
    message: 'hours go from 00 to 23',
  },
  {
    name: 'minute 60',
    body: withChange((e) => (e.event_timestamp = '2025-01-01T23:60:00Z')),
    path: '$.event_timestamp',
    message: 'minutes go from 00 to 59',
  },
  {
    name: 'leap second',
    body: withChange((e) => (e.event_timestamp = '2016-12-31T23:59:60Z')),
    path: '$.event_timestamp',
    message: 'leap seconds are not supported',
  },

  // data.
  {
    name: 'null data',
    body: withChange((e) => (e.data = null as never)),
    path: '$.data',
    message: 'must be an object, but is null',
  },
  {
    name: 'array data',
    body: withChange((e) => (e.data = [] as never)),
    path: '$.data',
    message: 'must be an object, but is an array',
  },
  {
    name: 'string data',
    body: withChange((e) => (e.data = 'APPROVED' as never)),
    path: '$.data',
    message: 'but is the string "APPROVED"',
  },
  {
    name: 'empty customer_id',
    body: withChange((e) => (e.data.customer_id = '')),
    path: '$.data.customer_id',
    message: 'data.customer_id must not be empty',
  },
  {
    name: 'numeric customer_id',
    body: withChange((e) => (e.data.customer_id = 201001008132685)),
    path: '$.data.customer_id',
    message: 'must be a string, but is the number',
  },
  {
    name: 'empty client_customer_ref',
    body: withChange((e) => (e.data.client_customer_ref = '')),
    path: '$.data.client_customer_ref',
    message: 'must not be empty',
  },
  {
    name: 'client_customer_ref with a space',
    body: withChange((e) => (e.data.client_customer_ref = 'CUST 001')),
    path: '$.data.client_customer_ref',
    message: 'only letters, digits, "_" and "-", but is "CUST 001"',
  },
  {
    name: 'client_customer_ref with a dot',
    body: withChange((e) => (e.data.client_customer_ref = 'CUST.001')),
    path: '$.data.client_customer_ref',
    message: 'only letters, digits',
  },
  {
    name: 'client_customer_ref with an accent',
    body: withChange((e) => (e.data.client_customer_ref = 'CLIENTÉ')),
    path: '$.data.client_customer_ref',
    message: 'only letters, digits',
  },
  {
    name: 'status PENDING',
    body: withChange((e) => (e.data.status = 'PENDING')),
    path: '$.data.status',
    message: 'must be one of "APPROVED", "REJECTED", but is the string "PENDING"',
  },
  {
    name: 'lower-case status',
    body: withChange((e) => (e.data.status = 'rejected')),
    path: '$.data.status',
    message: 'one of "APPROVED", "REJECTED"',
  },
  {
    name: 'null status',
    body: withChange((e) => (e.data.status = null)),
    path: '$.data.status',
    message: 'but is null',
  },

  // reasons.
  {
    name: 'empty reasons',
    body: withChange((e) => (e.data.reasons = [])),
    path: '$.data.reasons',
    message: 'must not be an empty array',
  },
  {
    name: 'reasons as an object',
    body: withChange((e) => (e.data.reasons = { code: 'A', reason: 'B' })),
    path: '$.data.reasons',
    message: 'must be an array, but is an object',
  },
  {
    name: 'reasons as a string',
    body: withChange((e) => (e.data.reasons = 'failed')),
    path: '$.data.reasons',
    message: 'must be an array',
  },
  {
    name: 'null reasons',
    body: withChange((e) => (e.data.reasons = null)),
    path: '$.data.reasons',
    message: 'but is null',
  },
  {
    name: 'reason without fields',
    body: withChange((e) => (e.data.reasons = [{}])),
    path: '$.data.reasons[0].code',
    message: 'data.reasons[0].code is required',
    count: 2,
  },
  {
    name: 'reason without text',
    body: withChange((e) => (e.data.reasons = [{ code: 'A' }])),
    path: '$.data.reasons[0].reason',
    message: 'is required',
  },
  {
    name: 'empty reason code',
    body: withChange((e) => (e.data.reasons = [{ code: '', reason: 'B' }])),
    path: '$.data.reasons[0].code',
    message: 'must not be empty',
  },
  {
    name: 'numeric reason code',
    body: withChange((e) => (e.data.reasons = [{ code: 7, reason: 'B' }])),
    path: '$.data.reasons[0].code',
    message: 'must be a string',
  },
  {
    name: 'reason as a string',
    body: withChange((e) => (e.data.reasons = ['failed'])),
    path: '$.data.reasons[0]',
    message: 'must be an object, but is the string "failed"',
  },
  {
    name: 'second reason null',
    body: withChange((e) => (e.data.reasons = [{ code: 'A', reason: 'B' }, null])),
    path: '$.data.reasons[1]',
    message: 'must be an object, but is null',
  },
  {
    name: 'reasons on APPROVED',
    body: withChange((e) => (e.data.reasons = [{ code: 'A', reason: 'B' }]), 'approved'),
    path: '$.data.reasons',
    message: 'must not be present when data.status is "APPROVED"',
  },
  {
    name: 'empty reasons on APPROVED',
    body: withChange((e) => (e.data.reasons = []), 'approved'),
    path: '$.data.reasons',
    message: 'must not be present',
    count: 2,
  },
];
