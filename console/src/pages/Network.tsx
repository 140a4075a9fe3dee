import { useMemo, useState } from "react";
import type { EChartsOption } from "echarts";
import { Alert, Button, Card, Col, Descriptions, Input, Row, Select, Space, Table, Tag, Typography } from "antd";
import { api, ApiError } from "../lib/api";
import { Chart } from "../lib/Chart";
import { useT } from "../lib/i18n";
import { useLoad } from "../lib/useLoad";

type Node = { id: string; name: string; kind: string; city: string; lat: number; lng: number; orders_per_hour: number };
type NetworkDoc = { nodes: Node[]; capacity_prices: Record<string, number> };
type Current = { nodes: Record<string, { backlog_hours: number; sorting_idle_rate: number; down: boolean }>; closed_lanes: string[] };
type Leg = { node: string; service: string; km: number; eta_hours: number };
type PlanDoc = { legs: Leg[]; score: number; breakdown: Record<string, number> };
type Decision = PlanDoc & { node: string; service: string; alternatives: PlanDoc[]; reasons: string[]; signals: { type: string; target: string; time: string }[]; policy_version: number };
type Batch = { moves: { oid: string; from_node: string | null; to_node: string }[]; unplaced: Record<string, string>; applied: boolean; total_cost?: number };

const KIND_COLOUR: Record<string, string> = { central_wh: "#1677ff", forward_wh: "#13c2c2", store: "#fa8c16", pickup_point: "#722ed1" };
const TRIGGERS = ["road_closure", "weather", "node_overload", "equipment_down", "stock_out", "carrier_capacity", "manual"];

// Operations sees the network with its live load, explains a decision, and previews a bulk re-route before applying it.
export function Network(): JSX.Element {
  const t = useT();
  const net = useLoad(() => api<NetworkDoc>("/v1/routing/network"), []);
  const cur = useLoad(() => api<Current>("/v1/signals/current"), []);
  const option = useMemo((): EChartsOption => {
    const nodes = net.data?.nodes ?? [];
    return {
      tooltip: {
        formatter: (p: unknown) => {
          const d = (p as { data: { name: string; backlog: number } }).data;
          return `${d.name}<br/>backlog ${d.backlog.toFixed(1)} h`;
        },
      },
      xAxis: { name: "lng", min: 95, max: 125 },
      yAxis: { name: "lat", min: 18, max: 46 },
      series: [
        {
          type: "scatter",
          data: nodes.map((n) => {
            const s = cur.data?.nodes[n.id];
            return {
              name: `${n.name} (${n.id})`,
              value: [n.lng, n.lat],
              backlog: s?.backlog_hours ?? 0,
              symbolSize: 6 + Math.sqrt(n.orders_per_hour) / 3,
              itemStyle: { color: s?.down ? "#f5222d" : KIND_COLOUR[n.kind] ?? "#999", opacity: 0.85 },
            };
          }),
        },
      ],
    };
  }, [net.data, cur.data]);
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} lg={12}>
        <Card title={t("网络与实时负载", "Network and live load")}>
          {net.error && <Alert type="error" message={net.error} />}
          <Chart option={option} label="network map" height={420} />
          <Space wrap>
            {Object.entries(KIND_COLOUR).map(([k, c]) => (
              <Tag key={k} color={c}>{k}</Tag>
            ))}
            <Tag color="#f5222d">down</Tag>
            {(cur.data?.closed_lanes ?? []).map((l) => (
              <Tag key={l}>{t("封闭", "closed")} {l}</Tag>
            ))}
          </Space>
        </Card>
      </Col>
      <Col xs={24} lg={12}>
        <DecisionExplorer />
      </Col>
      <Col span={24}>
        <ReroutePlanner />
      </Col>
    </Row>
  );
}

function DecisionExplorer(): JSX.Element {
  const t = useT();
  const [d, setD] = useState<Decision | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function load(oid: string): Promise<void> {
    setError(null);
    try {
      setD(await api<Decision>(`/v1/routing/decisions/${encodeURIComponent(oid.trim())}`));
    } catch (e) {
      setD(null);
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }
  const plans = d ? [d, ...d.alternatives] : [];
  const terms = d ? Object.keys(d.breakdown).filter((k) => plans.some((p) => Math.abs(p.breakdown[k] ?? 0) >= 0.05)) : [];
  const option = {
    tooltip: {},
    legend: { type: "scroll" as const },
    xAxis: { type: "value" as const, name: "¥" },
    yAxis: { type: "category" as const, data: plans.map((p) => p.legs.map((l) => l.node).join("+")) },
    series: terms.map((k) => ({ name: k, type: "bar" as const, stack: "score", data: plans.map((p) => +(p.breakdown[k] ?? 0).toFixed(2)) })),
  };
  return (
    <Card title={t("决策解释", "Decision explorer")}>
      <Input.Search aria-label="decision order id" placeholder={t("订单号", "Order id")} enterButton={t("解释", "Explain")} onSearch={(v) => void load(v)} />
      {error && <Alert type="error" message={error} style={{ marginTop: 8 }} />}
      {d && (
        <Space direction="vertical" style={{ width: "100%", marginTop: 8 }}>
          <Descriptions size="small" column={1} items={[
            { key: "n", label: t("选择", "Chosen"), children: d.legs.map((l) => `${l.node} · ${l.service} · ${l.km} km · ${l.eta_hours} h`).join(" + ") },
            { key: "v", label: t("策略版本", "Profile version"), children: d.policy_version },
          ]} />
          <Chart option={option} label="score breakdown" height={60 + 40 * plans.length} />
          <Typography.Paragraph>
            <ul>{d.reasons.slice(0, 8).map((r) => <li key={r}>{r}</li>)}</ul>
          </Typography.Paragraph>
          <Space wrap>{d.signals.map((s) => <Tag key={s.type + s.target + s.time}>{s.type} {s.target}</Tag>)}</Space>
        </Space>
      )}
    </Card>
  );
}

function ReroutePlanner(): JSX.Element {
  const t = useT();
  const [trigger, setTrigger] = useState("road_closure");
  const [batch, setBatch] = useState<Batch | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function run(apply: boolean): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      setBatch(await api<Batch>("/v1/routing/reroute", { method: "POST", body: JSON.stringify({ apply, trigger, move_penalty: 5 }) }));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Card title={t("批量改派", "Re-route planner")}>
      <Space wrap>
        <Select aria-label="trigger" value={trigger} onChange={setTrigger} options={TRIGGERS.map((x) => ({ value: x, label: x }))} style={{ width: 180 }} />
        <Button onClick={() => void run(false)} loading={busy}>{t("预览", "Preview")}</Button>
        <Button type="primary" danger disabled={!batch || batch.applied || batch.moves.length === 0} onClick={() => void run(true)} loading={busy}>
          {t("执行改派", "Apply")}
        </Button>
      </Space>
      {error && <Alert type="error" message={error} style={{ marginTop: 8 }} />}
      {batch && (
        <>
          <Typography.Paragraph style={{ marginTop: 8 }}>
            {batch.applied ? t("已执行", "Applied") : t("预览", "Preview")}: {batch.moves.length} {t("单改派", "moves")}, {Object.keys(batch.unplaced).length} {t("单无法安排", "unplaced")}
          </Typography.Paragraph>
          <Table size="small" rowKey="oid" dataSource={batch.moves} pagination={{ pageSize: 10 }} columns={[
            { title: "OID", dataIndex: "oid" },
            { title: t("原节点", "From"), dataIndex: "from_node" },
            { title: t("新节点", "To"), dataIndex: "to_node" },
          ]} />
        </>
      )}
    </Card>
  );
}
