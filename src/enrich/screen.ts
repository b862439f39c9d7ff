// PLACEHOLDER until the enrich branch lands.
export function screenClass(width: number | undefined): 'mobile' | 'tablet' | 'laptop' | 'desktop' | null {
  if (width === undefined || !Number.isFinite(width) || width <= 0) return null;
  return width < 576 ? 'mobile' : width < 992 ? 'tablet' : width < 1440 ? 'laptop' : 'desktop';
}
