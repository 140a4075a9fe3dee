import { useEffect, useState } from "react";
import { Alert, Badge, Card, Input, Select, Space, Tag, Timeline, Typography } from "antd";
import { api, ApiError } from "../lib/api";
import { useLang, useT } from "../lib/i18n";
import { follow } from "../lib/sse";

type Label = { zh: string; en: string };
type Ev = { id: string; type: string; label: Label; time: string };
type Typical = { count: number; p50_s: number; p90_s: number } | null;
type Step = { shipment: string | null; from: Ev; to: Ev; stage: string; leg: string; node: string | null; duration_s: number; typical: Typical; slow: boolean };
type Waiting = {
  shipment: string | null;
  last: Ev;
  node: string | null;
  elapsed_s: number;
  typical: Typical;
  finished: boolean;
  stuck: boolean;
  expected_next: { type: string; label: Label }[];
};
type Lens = { oid: string; status: { id: string; label: Label }; steps: Step[]; waiting: Waiting[]; stuck: boolean };

const ROLES = ["consumer", "cs", "finance", "ops", "admin"];

// A split order's parcels travel separately: order-level steps first, then one lane per shipment.
export function byShipment(steps: Step[]): [string | null, Step[]][] {
  const lanes = new Map<string | null, Step[]>();
  for (const s of steps) lanes.set(s.shipment, [...(lanes.get(s.shipment) ?? []), s]);
  return [...lanes.entries()].sort(([a], [b]) => (a === null ? -1 : b === null ? 1 : a.localeCompare(b)));
}

export function human(seconds: number | null | undefined): string {
  if (seconds == null) return "";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function initialOid(): string {
  const q = window.location.hash.split("?")[1] ?? "";
  return new URLSearchParams(q).get("oid") ?? "";
}

// Customer service types an order number and reads the atomic chain: each step against its typical
// duration, where the order is stuck, and what each role sees; new events arrive live.
export function OrderLens(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const [oid, setOid] = useState(initialOid());
  const [shown, setShown] = useState(initialOid());
  const [role, setRole] = useState("cs");
  const [lens, setLens] = useState<Lens | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(0);

  useEffect(() => {
    if (!shown) return;
    let current = true;
    setError(null);
    api<Lens>(`/v1/orders/${encodeURIComponent(shown)}/lens?role=${role}`)
      .then((l) => current && setLens(l))
      .catch((e) => current && (setLens(null), setError(e instanceof ApiError ? e.message : String(e))));
    return () => {
      current = false;
    };
  }, [shown, role, live]);
  useEffect(() => (shown ? follow(`/v1/orders/${encodeURIComponent(shown)}/live`, () => setLive((n) => n + 1)) : undefined), [shown]);

  const L = (l: Label): string => l[lang];
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Space wrap>
        <Input.Search
          aria-label="order id"
          placeholder={t("订单号（OID）", "Order id (OID)")}
          enterButton={t("查询", "Look up")}
          value={oid}
          onChange={(e) => setOid(e.target.value)}
          onSearch={(v) => setShown(v.trim())}
          style={{ width: 360, maxWidth: "100%" }}
        />
        <Select aria-label="role" value={role} onChange={setRole} options={ROLES.map((r) => ({ value: r, label: r }))} style={{ width: 140 }} />
        {shown && <Badge status={live ? "processing" : "default"} text={t("实时", "live")} />}
      </Space>
      {error && <Alert type="error" message={error} showIcon />}
      {lens?.waiting.filter((w) => w.stuck).map((w) => (
        <Alert
          key={w.last.id}
          type="warning"
          showIcon
          message={`${t("卡在", "Stuck at")} ${L(w.last.label)}${w.node ? ` · ${w.node}` : ""}: ${human(w.elapsed_s)}`}
          description={`${t("通常 p90", "typical p90")} ${human(w.typical?.p90_s)} · ${t("预期下一步", "expected next")}: ${w.expected_next.map((x) => L(x.label)).join(" / ")}`}
        />
      ))}
      {lens && (
        <Card title={`${lens.oid} · ${L(lens.status.label)}`}>
          {/* Lanes wrap: side by side on a desktop, one under the other on a phone. */}
          <div style={{ display: "flex", flexWrap: "wrap", gap: 16 }}>
            {byShipment(lens.steps).map(([shipment, steps], _, lanes) => (
              <div key={shipment ?? "order"} style={{ flex: shipment === null ? "1 1 100%" : "1 1 320px", minWidth: 0 }}>
                {lanes.length > 1 && (
                  <Typography.Title level={5} aria-label={`lane ${shipment ?? "order"}`}>
                    {shipment === null ? t("订单", "Order") : `${t("包裹", "Parcel")} ${shipment}`}
                  </Typography.Title>
                )}
                <Timeline
                  items={steps.map((s) => ({
                    color: s.slow ? "red" : "blue",
                    children: (
                      <Space direction="vertical" size={0}>
                        <Typography.Text strong>{L(s.to.label)}</Typography.Text>
                        <Typography.Text type="secondary">
                          {s.to.time.slice(0, 19).replace("T", " ")} <Tag>{s.leg}</Tag>
                          {s.node && <Tag>{s.node}</Tag>}
                          {s.shipment && <Tag color="purple">{s.shipment}</Tag>}
                        </Typography.Text>
                        <Typography.Text type={s.slow ? "danger" : "secondary"}>
                          {human(s.duration_s)} {s.typical && `(${t("通常", "typical")} ${human(s.typical.p50_s)}, p90 ${human(s.typical.p90_s)})`}
                        </Typography.Text>
                      </Space>
                    ),
                  }))}
                />
              </div>
            ))}
          </div>
        </Card>
      )}
    </Space>
  );
}
