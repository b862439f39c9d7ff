// PLACEHOLDER until the enrich branch lands.
export function countryOf(_ip: string | undefined): string | null {
  return null;
}
