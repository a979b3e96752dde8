import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  GENERATED_PATHS,
  renderApiTypes,
  renderFixturesModule,
  renderJsonFiles,
  servedApiDocument,
} from '../../scripts/generate.js';

const STALE = 'a generated file is stale: run npm run generate';

function committed(path: string): string {
  return readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
}

describe('generated files are up to date', () => {
  it(GENERATED_PATHS.fixtures, () => {
    expect(committed(GENERATED_PATHS.fixtures), STALE).toBe(renderFixturesModule());
  });

  it('JSON Schema and the OpenAPI documents (compared without layout, which Biome decides)', async () => {
    const rendered = await renderJsonFiles();
    expect(Object.keys(rendered).sort()).toEqual(
      [GENERATED_PATHS.jsonSchema, GENERATED_PATHS.openApi, GENERATED_PATHS.apiDocument].sort(),
    );
    for (const [path, text] of Object.entries(rendered)) {
      expect(canonicalJson(committed(path)), `${path}: ${STALE}`).toBe(canonicalJson(text));
    }
  });

  it(`${GENERATED_PATHS.apiTypes} (the client's types, byte for byte)`, async () => {
    const rendered = await renderApiTypes(await servedApiDocument());
    expect(committed(GENERATED_PATHS.apiTypes), STALE).toBe(rendered);
  });
});
