import { useState } from "react";
import { Alert, Card, Input, Select, Space, Tag, Timeline, Typography } from "antd";
import { api, ApiError } from "../lib/api";
import { useT } from "../lib/i18n";

type Label = { zh: string; en: string };
type Step = { type: string; label: Label; time: string; leg?: string; since_previous_s?: number | null };
type Chain = { oid: string; status: { id: string; label: Label }; steps: Step[] };

const ROLES = ["consumer", "cs", "finance", "ops", "admin"];

function human(seconds: number | null | undefined): string {
  if (seconds == null) return "";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

// Customer service types an order number and reads the atomic chain, as any role would see it.
export function OrderLens(): JSX.Element {
  const t = useT();
  const [oid, setOid] = useState("");
  const [role, setRole] = useState("cs");
  const [chain, setChain] = useState<Chain | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function load(value: string, as: string): Promise<void> {
    setError(null);
    try {
      const q = as === "own" ? "" : `?role=${as}`;
      setChain(await api<Chain>(`/v1/orders/${encodeURIComponent(value.trim())}/chain${q}`));
    } catch (e) {
      setChain(null);
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Space wrap>
        <Input.Search
          aria-label="order id"
          placeholder={t("订单号（OID）", "Order id (OID)")}
          enterButton={t("查询", "Look up")}
          value={oid}
          onChange={(e) => setOid(e.target.value)}
          onSearch={(v) => void load(v, role)}
          style={{ width: 360 }}
        />
        <Select
          aria-label="role"
          value={role}
          onChange={(r) => {
            setRole(r);
            if (oid) void load(oid, r);
          }}
          options={ROLES.map((r) => ({ value: r, label: r }))}
          style={{ width: 140 }}
        />
      </Space>
      {error && <Alert type="error" message={error} showIcon />}
      {chain && (
        <Card title={`${chain.oid} · ${t(chain.status.label.zh, chain.status.label.en)}`}>
          <Timeline
            items={chain.steps.map((s) => ({
              children: (
                <Space direction="vertical" size={0}>
                  <Typography.Text strong>{t(s.label.zh, s.label.en)}</Typography.Text>
                  <Typography.Text type="secondary">
                    {s.time} {s.leg && <Tag>{s.leg}</Tag>} {human(s.since_previous_s)}
                  </Typography.Text>
                </Space>
              ),
            }))}
          />
        </Card>
      )}
    </Space>
  );
}
