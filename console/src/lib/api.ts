// The console talks to the same HTTP API as every other client, with the key the user pastes in.
export type Problem = { field: string; rule: string; message: string };
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public problems: Problem[] = [],
  ) {
    super(message);
  }
}

const KEY = "orderloom.key";
export const getKey = (): string => localStorage.getItem(KEY) ?? "";
export const setKey = (key: string): void => localStorage.setItem(KEY, key.trim());

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${getKey()}`);
  if (init.body && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  const r = await fetch(path, { ...init, headers });
  const text = await r.text();
  const body = text ? JSON.parse(text) : null;
  if (!r.ok) {
    const err = body?.error ?? {};
    throw new ApiError(r.status, err.message ?? `HTTP ${r.status}`, err.problems ?? []);
  }
  return body as T;
}
