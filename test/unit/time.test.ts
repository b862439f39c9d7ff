import { describe, expect, it } from 'vitest';
import { addDays, bucketsOf, dayStart, daysBetween, eachDay, hourStart, hoursOfDay, isValidDay, localDay, toLocalIso, tzOffset } from '../../src/core/time.js';

const HOUR = 3_600_000;

describe('calendar in a site timezone', () => {
  it('finds the local day and hour of an instant', () => {
    const t = Date.parse('2024-01-15T03:30:00Z');
    expect(bucketsOf(t, 'UTC')).toEqual({ day: '2024-01-15', hour: Date.parse('2024-01-15T03:00:00Z') });
    expect(bucketsOf(t, 'America/New_York')).toEqual({ day: '2024-01-14', hour: Date.parse('2024-01-15T03:00:00Z') });
    expect(bucketsOf(t, 'Asia/Kolkata')).toEqual({ day: '2024-01-15', hour: Date.parse('2024-01-15T03:30:00Z') });
    expect(bucketsOf(t, 'Asia/Kathmandu').hour).toBe(Date.parse('2024-01-15T03:15:00Z'));
  });

  it('cuts New York days at local midnight across DST', () => {
    expect(dayStart('2024-03-10', 'America/New_York')).toBe(Date.parse('2024-03-10T05:00:00Z'));
    expect(dayStart('2024-03-11', 'America/New_York')).toBe(Date.parse('2024-03-11T04:00:00Z'));
    expect(dayStart('2024-11-03', 'America/New_York')).toBe(Date.parse('2024-11-03T04:00:00Z'));
    expect(dayStart('2024-11-04', 'America/New_York')).toBe(Date.parse('2024-11-04T05:00:00Z'));
    expect(hoursOfDay('2024-03-10', 'America/New_York')).toHaveLength(23);
    expect(hoursOfDay('2024-11-03', 'America/New_York')).toHaveLength(25);
    expect(hoursOfDay('2024-07-01', 'America/New_York')).toHaveLength(24);
    expect(localDay(Date.parse('2024-11-04T04:59:59.999Z'), 'America/New_York')).toBe('2024-11-03');
    expect(localDay(Date.parse('2024-11-04T05:00:00Z'), 'America/New_York')).toBe('2024-11-04');
  });

  it('keeps the two 01:00 hours of a fall-back night apart', () => {
    const first = Date.parse('2024-11-03T05:30:00Z'); // 01:30 EDT
    const second = Date.parse('2024-11-03T06:30:00Z'); // 01:30 EST
    expect(hourStart(first, 'America/New_York')).toBe(Date.parse('2024-11-03T05:00:00Z'));
    expect(hourStart(second, 'America/New_York')).toBe(Date.parse('2024-11-03T06:00:00Z'));
    expect(toLocalIso(hourStart(first, 'America/New_York'), 'America/New_York')).toBe('2024-11-03T01:00:00-04:00');
    expect(toLocalIso(hourStart(second, 'America/New_York'), 'America/New_York')).toBe('2024-11-03T01:00:00-05:00');
  });

  it('starts a day at the first hour that exists when midnight is skipped', () => {
    // Chile springs forward at 24:00 -> 01:00 (2024-09-08).
    const start = dayStart('2024-09-08', 'America/Santiago');
    expect(localDay(start, 'America/Santiago')).toBe('2024-09-08');
    expect(localDay(start - 1, 'America/Santiago')).toBe('2024-09-07');
    expect(hoursOfDay('2024-09-08', 'America/Santiago')).toHaveLength(23);
  });

  it('reports offsets', () => {
    expect(tzOffset(Date.parse('2024-01-01T00:00:00Z'), 'Europe/Paris')).toBe(HOUR);
    expect(tzOffset(Date.parse('2024-07-01T00:00:00Z'), 'Europe/Paris')).toBe(2 * HOUR);
    expect(toLocalIso(Date.parse('2024-07-01T00:00:00Z'), 'Asia/Kolkata')).toBe('2024-07-01T05:30:00+05:30');
  });

  it('validates and walks calendar days', () => {
    expect(isValidDay('2024-02-29')).toBe(true);
    expect(isValidDay('2023-02-29')).toBe(false);
    expect(isValidDay('2024-13-01')).toBe(false);
    expect(isValidDay('2024-1-01')).toBe(false);
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
    expect(daysBetween('2024-01-01', '2024-12-31')).toBe(366);
    expect(eachDay('2024-02-27', '2024-03-01')).toEqual(['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01']);
  });
});

// Issue 9, item 1: no loop here runs longer than its input says, at the ends of the calendar too.
describe('calendar bounds', () => {
  it('lists the days of a range by counting, at the last supported days too', async () => {
    const { MAX_DAY, MIN_DAY, isSupportedDay } = await import('../../src/core/time.js');
    expect(eachDay('9999-12-29', '9999-12-30')).toEqual(['9999-12-29', '9999-12-30']);
    expect(eachDay('1970-01-01', '1970-01-02')).toEqual(['1970-01-01', '1970-01-02']);
    expect(eachDay('2024-02-28', '2024-03-01')).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    expect(() => eachDay('2000-01-01', '9999-12-30')).toThrow(RangeError);
    expect([isSupportedDay(MIN_DAY), isSupportedDay(MAX_DAY), isSupportedDay('9999-12-31'), isSupportedDay('1969-12-31')]).toEqual([true, true, false, false]);
  });

  it('finds day starts and hours in the most extreme zones at the supported ends', () => {
    for (const tz of ['Pacific/Kiritimati', 'Etc/GMT+12', 'Asia/Kathmandu', 'America/New_York']) {
      expect(hoursOfDay('9999-12-30', tz).length, tz).toBeGreaterThanOrEqual(23);
      expect(hoursOfDay('1970-01-01', tz).length, tz).toBeGreaterThanOrEqual(23);
      expect(localDay(dayStart('9999-12-30', tz), tz)).toBe('9999-12-30');
    }
  });
});
