import { vi } from "vitest";

// jsdom has no matchMedia; antd's grid and responsive descriptions ask it which breakpoint applies.
export function desktopMedia(): void {
  vi.stubGlobal("matchMedia", (query: string) => ({
    matches: query.includes("min-width"), // every min-width breakpoint holds: a wide screen
    media: query,
    onchange: null,
    addListener: () => undefined,
    removeListener: () => undefined,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    dispatchEvent: () => false,
  }));
}

// A fake API: the first route whose path the URL starts with answers; anything else is a 404 the test would notice.
export function fakeApi(routes: Record<string, unknown>): ReturnType<typeof vi.fn> {
  const fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
    const path = url.split("?")[0];
    const hit = Object.keys(routes)
      .sort((a, b) => b.length - a.length)
      .find((r) => path === r || (r.endsWith("*") && path.startsWith(r.slice(0, -1))));
    if (hit === undefined) return new Response(JSON.stringify({ error: { message: `no fake for ${url}` } }), { status: 404 });
    const body = routes[hit];
    const value = typeof body === "function" ? (body as (u: string, i?: RequestInit) => unknown)(url, init) : body;
    return new Response(JSON.stringify(value), { status: 200 });
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}
