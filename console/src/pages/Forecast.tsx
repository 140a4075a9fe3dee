import { useEffect, useMemo, useState } from "react";
import type { EChartsOption } from "echarts";
import { Alert, Button, Card, Space, Table, Tag, Typography } from "antd";
import { api } from "../lib/api";
import { Chart } from "../lib/Chart";
import { useLang, useT } from "../lib/i18n";
import { useLoad } from "../lib/useLoad";

type Point = { time: string; backlog_hours: number; forecast_hours: number | null };
type Centre = {
  node: string;
  name: string;
  backlog_hours: number;
  predicted: { target_time: string; backlog_hours: number; over: boolean; drivers?: { feature: string; effect_hours: number }[] } | null;
  open_alert: { time: string; predicted_backlog_hours: number } | null;
  series: Point[];
  ahead: { time: string; forecast_hours: number }[];
};
export type Board = { at: string | null; horizon_hours: number; threshold_hours: number; model_version: string | null; source: string; nodes: Centre[] };

const hour = (iso: string): string => iso.slice(5, 13).replace("T", " ") + "h";

// Each sorting centre's backlog 6 hours ahead against the alert threshold; pick a centre to see its series.
export function Forecast(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const board = useLoad(() => api<Board>("/v1/forecast?hours=48"), []);
  const [picked, setPicked] = useState<string | null>(null);
  const b = board.data;
  // While the model is still training (the demo trains one at start) ask again every 30 s, without blocking.
  const waiting = b != null && b.model_version == null;
  useEffect(() => {
    if (!waiting) return;
    const timer = window.setInterval(board.reload, 30000);
    return () => window.clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [waiting]);
  // The centre most at risk first, so the chart opens on it.
  const nodes = useMemo(() => [...(b?.nodes ?? [])].sort((x, y) => (y.predicted?.backlog_hours ?? -1) - (x.predicted?.backlog_hours ?? -1)), [b]);
  const shown = nodes.find((n) => n.node === picked) ?? nodes[0];
  const option = useMemo((): EChartsOption => {
    if (!shown || !b) return {};
    const times = [...shown.series.map((p) => p.time), ...shown.ahead.map((p) => p.time)];
    const forecast = [...shown.series.map((p) => p.forecast_hours), ...shown.ahead.map((p) => p.forecast_hours)];
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 32, bottom: 30 },
      xAxis: { type: "category", data: times.map(hour) },
      yAxis: { type: "value", name: "h" },
      series: [
        { name: t("实际积压（小时）", "Backlog (h)"), type: "line", showSymbol: false, data: shown.series.map((p) => p.backlog_hours) },
        {
          name: t(`${b.horizon_hours} 小时前的预测`, `Forecast made ${b.horizon_hours} h before`),
          type: "line",
          showSymbol: false,
          lineStyle: { type: "dashed" },
          data: forecast,
          markLine: { symbol: "none", data: [{ yAxis: b.threshold_hours, name: t("告警阈值", "threshold") }], lineStyle: { color: "#f5222d" } },
        },
      ],
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shown, b, lang]); // t follows lang
  return (
    <Card
      title={t("分拨中心积压预测", "Sorting-centre backlog forecast")}
      extra={
        <Button onClick={board.reload} loading={board.loading}>
          {t("刷新", "Refresh")}
        </Button>
      }
    >
      {board.error && <Alert type="error" message={board.error} />}
      {board.loading && !b && <Typography.Text>{t("计算中…", "Computing…")}</Typography.Text>}
      {b && (
        <Space direction="vertical" style={{ width: "100%" }}>
          <Typography.Text type="secondary">
            {b.at ? `${t("截至", "as of")} ${new Date(b.at).toLocaleString()} · ` : ""}
            {t("阈值", "threshold")} {b.threshold_hours} h · {t("模型", "model")} {b.model_version ?? t("未加载", "not loaded")} · {b.source}
          </Typography.Text>
          {b.model_version == null && <Alert type="info" message={t("模型尚未就绪：只显示实际积压。", "No model yet: only the actual backlog is shown.")} />}
          <Table
            size="small"
            rowKey="node"
            dataSource={nodes}
            pagination={false}
            scroll={{ x: true }}
            rowClassName={(n) => (n.node === shown?.node ? "ant-table-row-selected" : "")}
            onRow={(n) => ({ onClick: () => setPicked(n.node) })}
            locale={{ emptyText: t("日志中还没有分拨数据", "No sorting-centre activity in the log yet") }}
            columns={[
              {
                title: t("分拨中心", "Centre"),
                key: "n",
                render: (_: unknown, n: Centre) => (
                  <a role="button" href="#/intelligence" onClick={(e) => (e.preventDefault(), setPicked(n.node))} aria-label={`forecast ${n.node}`}>
                    {n.name} ({n.node})
                  </a>
                ),
              },
              { title: t("当前积压", "Backlog now"), dataIndex: "backlog_hours", align: "right", render: (v: number) => `${v.toFixed(1)} h` },
              {
                title: t(`${b.horizon_hours} 小时后`, `In ${b.horizon_hours} h`),
                key: "p",
                align: "right",
                render: (_: unknown, n: Centre) =>
                  n.predicted ? <Tag color={n.predicted.over ? "red" : "green"}>{n.predicted.backlog_hours.toFixed(1)} h</Tag> : "—",
              },
              { title: t("告警", "Alert"), key: "a", render: (_: unknown, n: Centre) => (n.open_alert ? <Tag color="red">{t("告警中", "open")}</Tag> : null) },
            ]}
          />
          {shown && (
            <>
              <Typography.Text strong>
                {shown.name} ({shown.node})
              </Typography.Text>
              <Chart option={option} label="backlog forecast" height={240} />
              {shown.predicted?.drivers && shown.predicted.drivers.length > 0 && (
                <Space wrap>
                  {t("主要驱动", "Drivers")}:
                  {shown.predicted.drivers.map((d) => (
                    <Tag key={d.feature}>
                      {d.feature} {d.effect_hours >= 0 ? "+" : ""}
                      {d.effect_hours.toFixed(1)} h
                    </Tag>
                  ))}
                </Space>
              )}
            </>
          )}
        </Space>
      )}
    </Card>
  );
}
