import { getKey } from "./api";

// Server-Sent Events over fetch, because EventSource cannot send the Authorization header.
export function follow(path: string, onEvent: (data: unknown) => void): () => void {
  const stop = new AbortController();
  void (async () => {
    try {
      const r = await fetch(path, { headers: { Authorization: `Bearer ${getKey()}` }, signal: stop.signal });
      if (!r.ok || !r.body) return;
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch {
      // aborted or the connection dropped: the page keeps what it has
    }
  })();
  return () => stop.abort();
}
