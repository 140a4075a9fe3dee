import { useMemo, useState } from "react";
import type { EChartsOption } from "echarts";
import { Alert, Card, Col, Row, Segmented, Select, Space, Typography } from "antd";
import { api } from "../lib/api";
import { Chart } from "../lib/Chart";
import { useLang, useT } from "../lib/i18n";
import { useLoad } from "../lib/useLoad";
import { Findings } from "./Findings";
import { Forecast } from "./Forecast";

type Row_ = { node: string | null; stage: string; label: { zh: string; en: string }; count: number; p50_s: number; p90_s: number; p99_s: number };
type Heat = { columns: (string | number)[]; rows: Row_[]; data: [number, number, number | null, number][]; min: number | null; max: number | null; steps: number };

const hours = (s: number | null | undefined): string => (s == null ? "—" : s < 3600 ? `${(s / 60).toFixed(0)} min` : `${(s / 3600).toFixed(1)} h`);

// The control tower: where orders wait (dwell heatmap by node and hour), and which findings are open.
export function Intelligence(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const [by, setBy] = useState<"hour" | "day">("hour");
  const [metric, setMetric] = useState("p90");
  const heat = useLoad(() => api<Heat>(`/v1/analytics/dwell?by=${by}&metric=${metric}`), [by, metric]);
  const option = useMemo((): EChartsOption => {
    const h = heat.data;
    if (!h) return {};
    return {
      tooltip: {
        formatter: (p: unknown) => {
          const [c, r, v, n] = (p as { data: [number, number, number | null, number] }).data;
          return `${h.rows[r].label[lang]}<br/>${h.columns[c]}: ${metric} ${hours(v)} (${n})`;
        },
      },
      grid: { left: 160, right: 20, top: 10, bottom: 60 },
      xAxis: { type: "category", data: h.columns.map(String) },
      yAxis: { type: "category", data: h.rows.map((r) => r.label[lang]), axisLabel: { width: 150, overflow: "truncate" } },
      visualMap: { dimension: 2, min: h.min ?? 0, max: h.max ?? 1, calculable: true, orient: "horizontal", left: "center", bottom: 0, formatter: (v: unknown) => hours(Number(v)) },
      series: [{ type: "heatmap", data: h.data.map(([c, r, v, n]) => [c, r, v ?? "-", n]) }],
    };
  }, [heat.data, lang, metric]);
  return (
    <Row gutter={[16, 16]}>
      <Col span={24}>
        <Card
          title={t("停留时长热力图", "Dwell-time heatmap")}
          extra={
            <Space wrap>
              <Segmented aria-label="by" value={by} onChange={(v) => setBy(v as "hour" | "day")} options={[{ label: t("按小时", "By hour"), value: "hour" }, { label: t("按天", "By day"), value: "day" }]} />
              <Select aria-label="metric" value={metric} onChange={setMetric} options={["p50", "p90", "p99"].map((m) => ({ value: m, label: m }))} style={{ width: 90 }} />
            </Space>
          }
        >
          {heat.error && <Alert type="error" message={heat.error} />}
          {heat.loading && !heat.data && <Typography.Text>{t("计算中…", "Computing…")}</Typography.Text>}
          {heat.data && (
            <>
              <Typography.Text type="secondary">{heat.data.steps} {t("个步骤", "steps")}</Typography.Text>
              <Chart option={option} label="dwell heatmap" height={Math.max(260, 28 * heat.data.rows.length + 90)} />
            </>
          )}
        </Card>
      </Col>
      <Col xs={24} xl={14}>
        <Findings />
      </Col>
      <Col xs={24} xl={10}>
        <Forecast />
      </Col>
    </Row>
  );
}
