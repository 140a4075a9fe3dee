import { useMemo, useState } from "react";
import type { EChartsOption } from "echarts";
import { Alert, Card, Grid, Progress, Segmented, Space, Table, Tag, Typography } from "antd";
import { api } from "../../lib/api";
import { Chart } from "../../lib/Chart";
import { useLang, useT } from "../../lib/i18n";
import { useEach } from "../../lib/useEach";
import { useLoad } from "../../lib/useLoad";

type Summary = { id: string; name: string; domain: string; team: string; freshness: { text: string } };
type Day = { day: string; due: number; on_time: number; late: number; missing: number; rejected: number };
export type Health = {
  contract: string;
  orders: { owed: number; due: number; on_time: number; late: number; missing: number; pending: number };
  fulfilment_rate: number | null;
  median_late_s: number | null;
  deliveries: { stored: number; invalid_under_current_contract: number; rejected: number };
  rejections_by_rule: { field: string; rule: string; count: number }[];
  trend: Day[];
};

export const DOMAIN_ZH: Record<string, string> = {
  marketing: "市场",
  sales: "销售",
  product: "产品",
  supply_chain: "供应链",
  finance: "财务",
  customer_service: "客服",
  value_stream: "价值流",
};

// Green from 90%, amber from 70%: the same bands the department views use to call a contract healthy.
const colour = (rate: number): string => (rate >= 0.9 ? "#52c41a" : rate >= 0.7 ? "#faad14" : "#f5222d");

// Each department's data contract: how many owed orders got their fields on time, late or never, and why deliveries were refused.
export function Contracts(): JSX.Element {
  const t = useT();
  const [days, setDays] = useState(30);
  const list = useLoad(() => api<{ contracts: Summary[] }>("/v1/valuestream/contracts"), []);
  const ids = (list.data?.contracts ?? []).map((c) => c.id);
  const health = useEach(ids, (id) => api<Health>(`/v1/valuestream/contracts/${id}/health?days=${days}`), [days]);
  // On a phone the counts move under the contract's name instead of scrolling off to the right.
  const compact = !Grid.useBreakpoint().md;
  const rate = (c: Summary): JSX.Element => {
    const h = health[c.id];
    if (h?.error) return <Typography.Text type="danger">{h.error}</Typography.Text>;
    if (!h?.data) return <Typography.Text type="secondary">…</Typography.Text>;
    const r = h.data.fulfilment_rate;
    if (r == null) return <Typography.Text type="secondary">{t("无到期订单", "nothing due")}</Typography.Text>;
    return <Progress percent={Math.round(r * 1000) / 10} strokeColor={colour(r)} size="small" aria-label={`${c.id} fulfilment`} />;
  };
  const counts = (c: Summary): string => {
    const o = health[c.id]?.data?.orders;
    const refused = health[c.id]?.data?.deliveries.rejected ?? 0;
    return o ? `${t("按时", "on time")} ${o.on_time} · ${t("迟到", "late")} ${o.late} · ${t("缺失", "missing")} ${o.missing} · ${t("被拒", "refused")} ${refused}` : "";
  };
  return (
    <Card
      title={t("数据契约健康度", "Contract health")}
      extra={
        <Segmented
          aria-label="health days"
          value={days}
          onChange={(v) => setDays(Number(v))}
          options={[7, 30, 90].map((d) => ({ value: d, label: t(`${d} 天`, `${d} d`) }))}
        />
      }
    >
      {list.error && <Alert type="error" message={list.error} />}
      <Table
        size="small"
        rowKey="id"
        loading={list.loading && !list.data}
        dataSource={list.data?.contracts ?? []}
        pagination={false}
        scroll={compact ? undefined : { x: 720 }}
        expandable={{
          expandedRowRender: (c: Summary) => <Detail health={health[c.id]?.data} />,
          rowExpandable: (c: Summary) => Boolean(health[c.id]?.data),
        }}
        columns={[
          {
            title: t("契约", "Contract"),
            key: "c",
            render: (_: unknown, c: Summary) => (
              <Space direction="vertical" size={0}>
                <Typography.Text strong>{c.name}</Typography.Text>
                <Space size={4} wrap>
                  <Tag>{t(DOMAIN_ZH[c.domain] ?? c.domain, c.team)}</Tag>
                  <Typography.Text type="secondary">{c.freshness.text}</Typography.Text>
                </Space>
                {compact && rate(c)}
                {compact && <Typography.Text type="secondary">{counts(c)}</Typography.Text>}
              </Space>
            ),
          },
          ...(compact
            ? []
            : [
                { title: t("按时交付率", "Fulfilment"), key: "f", width: 170, render: (_: unknown, c: Summary) => rate(c) },
                ...(["on_time", "late", "missing", "pending"] as const).map((k) => ({
                  title: { on_time: t("按时", "On time"), late: t("迟到", "Late"), missing: t("缺失", "Missing"), pending: t("未到期", "Pending") }[k],
                  key: k,
                  align: "right" as const,
                  render: (_: unknown, c: Summary) => health[c.id]?.data?.orders[k] ?? "",
                })),
                {
                  title: t("被拒", "Refused"),
                  key: "r",
                  align: "right" as const,
                  render: (_: unknown, c: Summary) => {
                    const n = health[c.id]?.data?.deliveries.rejected;
                    return n ? <Tag color="red">{n}</Tag> : n ?? "";
                  },
                },
              ]),
        ]}
      />
    </Card>
  );
}

function Detail({ health }: { health: Health | undefined }): JSX.Element | null {
  const t = useT();
  const lang = useLang();
  const option = useMemo((): EChartsOption => {
    const days = health?.trend ?? [];
    const bar = (name: string, key: "on_time" | "late" | "missing", color: string) => ({
      name,
      type: "bar" as const,
      stack: "due",
      itemStyle: { color },
      data: days.map((d) => d[key]),
    });
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 32, bottom: 30 },
      xAxis: { type: "category", data: days.map((d) => d.day.slice(5)) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        bar(t("按时", "On time"), "on_time", "#52c41a"),
        bar(t("迟到", "Late"), "late", "#faad14"),
        bar(t("缺失", "Missing"), "missing", "#f5222d"),
        { name: t("被拒", "Refused"), type: "line", data: days.map((d) => d.rejected), itemStyle: { color: "#722ed1" } },
      ],
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [health, lang]); // t follows lang
  if (!health) return null;
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Chart option={option} label={`${health.contract} trend`} height={220} />
      {health.rejections_by_rule.length > 0 && (
        <Space wrap>
          <Typography.Text>{t("被拒原因", "Refused for")}:</Typography.Text>
          {health.rejections_by_rule.map((r) => (
            <Tag key={r.field + r.rule} color="red">
              {r.field} · {r.rule} × {r.count}
            </Tag>
          ))}
        </Space>
      )}
    </Space>
  );
}
