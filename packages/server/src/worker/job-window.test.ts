import { describe, expect, it } from 'vitest';
import { createJobWindow, fixedJobWindow, MAX_JOBS_IN_WINDOW } from './job-window.js';

describe('createJobWindow', () => {
  it('holds the minimum until it has seen a job', () => {
    expect(createJobWindow(10, 10_000).size).toBe(10);
  });

  it('widens for small jobs until they carry about the events wanted, never past the cap', () => {
    const window = createJobWindow(10, 10_000);
    for (let i = 0; i < 200; i++) window.observe(40);
    expect(window.size).toBe(250); // 10,000 / 40
    for (let i = 0; i < 200; i++) window.observe(1);
    expect(window.size).toBe(MAX_JOBS_IN_WINDOW);
  });

  it('shrinks at once when a large job comes, and never below the minimum', () => {
    const window = createJobWindow(10, 10_000);
    for (let i = 0; i < 200; i++) window.observe(2);
    expect(window.size).toBe(MAX_JOBS_IN_WINDOW);
    window.observe(1_000);
    expect(window.size).toBe(10);
    window.observe(0);
    expect(window.size).toBeGreaterThanOrEqual(10);
  });

  it('a fixed window ignores what it is told', () => {
    const window = fixedJobWindow(3);
    window.observe(1);
    expect(window.size).toBe(3);
  });
});
