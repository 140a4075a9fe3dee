import { useEffect, useState } from "react";
import { ApiError } from "./api";

export type Each<T> = Record<string, { data?: T; error?: string }>;

// One request per key, each filling in on its own: a slow answer never holds back the others.
export function useEach<T>(keys: string[], load: (key: string) => Promise<T>, deps: unknown[] = []): Each<T> {
  const [each, setEach] = useState<Each<T>>({});
  const joined = keys.join("\u0000");
  useEffect(() => {
    let live = true;
    setEach({});
    for (const k of joined ? joined.split("\u0000") : []) {
      load(k)
        .then((data) => live && setEach((e) => ({ ...e, [k]: { data } })))
        .catch((err) => live && setEach((e) => ({ ...e, [k]: { error: err instanceof ApiError ? err.message : String(err) } })));
    }
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [joined, ...deps]);
  return each;
}
