// Screen size classes (Plausible's breakpoints), from the CSS pixel width the tracker sends.

export type ScreenClass = 'mobile' | 'tablet' | 'laptop' | 'desktop';

/** `null` for a missing, non-finite, non-positive or absurd (> 100,000 px) width. */
export function screenClass(width: number | undefined | null): ScreenClass | null {
  if (typeof width !== 'number' || !Number.isFinite(width) || width <= 0 || width > 100_000) return null;
  if (width < 576) return 'mobile';
  if (width < 992) return 'tablet';
  if (width < 1440) return 'laptop';
  return 'desktop';
}
