import { useMemo, useState } from "react";
import type { EChartsOption } from "echarts";
import { Alert, Button, Card, Col, Descriptions, List, Row, Space, Table, Tag, Typography } from "antd";
import { api, ApiError } from "../../lib/api";
import { Chart } from "../../lib/Chart";
import { useLang, useT } from "../../lib/i18n";
import { useLoad } from "../../lib/useLoad";
import { TriggerLoop } from "./Triggers";

type Label = { zh: string; en: string };
type Rate = { size: number; events: number; rate: number };
type Firing = { id: string; time: string; cohort: Rate; comparison: Rate; ratio: number; causes?: { text: string; lift: number; size: number; events: number }[] };
type Detector = { name: string; version: number; label: Label; document: { description?: string; min_cohort?: number }; firings: Firing[] };
type Timing = { events: number; within: Record<string, number>; median_minutes: number | null; top_reason: string | null; top_reason_share: number | null };
type Subgroup = {
  conditions: { attribute: string; op: string; value: string }[];
  text: string;
  size: number;
  events: number;
  rate: number;
  lift: number;
  q_value: number;
  timing?: Timing;
};
export type Report = {
  detector: string;
  cohort: Rate & { timing?: Timing };
  comparison: Rate;
  ratio: number | null;
  fires: boolean;
  why_not: string | null;
  sentences: string[];
  elsewhere_timing?: Timing;
  subgroups: Subgroup[];
  search: { attributes: string[]; tested: number; known_only_after_delivery: string[] };
};

const pct = (x: number | null | undefined): string => (x == null ? "—" : `${(x * 100).toFixed(1)}%`);

// Detectors watch cohorts woven from every department's facts; the explorer says which attributes explain a firing.
export function Detectors(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const list = useLoad(() => api<{ detectors: Detector[] }>("/v1/valuestream/detectors"), []);
  const [chosen, setChosen] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [ran, setRan] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function runNow(): Promise<void> {
    setRunning(true);
    setError(null);
    try {
      const r = await api<{ fired: number; detectors: unknown[] }>("/v1/valuestream/detectors/run", { method: "POST" });
      setRan(t(`已运行 ${r.detectors.length} 个检测器，${r.fired} 个触发`, `Ran ${r.detectors.length} detectors, ${r.fired} fired`));
      list.reload();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setRunning(false);
    }
  }
  const shown = chosen ?? list.data?.detectors[0]?.name ?? null;
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} xl={9}>
        <Space direction="vertical" style={{ width: "100%" }} size={16}>
          <Card
            title={t("检测器", "Detectors")}
            extra={
              <Button onClick={() => void runNow()} loading={running}>
                {t("立即运行", "Run now")}
              </Button>
            }
          >
            {(list.error || error) && <Alert type="error" message={list.error ?? error} />}
            {ran && <Alert type="success" message={ran} style={{ marginBottom: 8 }} />}
            <List
              loading={list.loading && !list.data}
              dataSource={list.data?.detectors ?? []}
              locale={{ emptyText: t("没有已发布的检测器", "No published detectors") }}
              renderItem={(d) => {
                const last = d.firings[0];
                return (
                  <List.Item
                    actions={[
                      <Button key="rc" type={d.name === shown ? "primary" : "default"} onClick={() => setChosen(d.name)} aria-label={`root cause ${d.name}`}>
                        {t("根因", "Root cause")}
                      </Button>,
                    ]}
                  >
                    <List.Item.Meta
                      title={
                        <Space wrap>
                          {d.label[lang] ?? d.name}
                          <Tag>v{d.version}</Tag>
                          {last ? <Tag color="red">{t("已触发", "fired")}</Tag> : <Tag color="green">{t("正常", "quiet")}</Tag>}
                        </Space>
                      }
                      description={
                        last ? (
                          <Typography.Text>
                            {new Date(last.time).toLocaleString()} · {pct(last.cohort.rate)} {t("对比", "vs")} {pct(last.comparison.rate)} ({last.ratio.toFixed(1)}×)
                            {last.causes?.[0] && <> · {last.causes[0].text}</>}
                          </Typography.Text>
                        ) : (
                          d.document.description
                        )
                      }
                    />
                  </List.Item>
                );
              }}
            />
          </Card>
          <TriggerLoop />
        </Space>
      </Col>
      <Col xs={24} xl={15}>{shown && <RootCause name={shown} />}</Col>
    </Row>
  );
}

export function RootCause({ name }: { name: string }): JSX.Element {
  const t = useT();
  const lang = useLang();
  const report = useLoad(() => api<Report>(`/v1/valuestream/detectors/${name}/root-cause`), [name]);
  const r = report.data;
  const option = useMemo((): EChartsOption => {
    if (!r) return {};
    const top = r.subgroups[0];
    const rows: [string, Timing | undefined][] = [
      [t("队列", "Cohort"), r.cohort.timing],
      [t("对比组", "Elsewhere"), r.elsewhere_timing],
      ...(top ? ([[t("首要子群", "Top subgroup"), top.timing]] as [string, Timing | undefined][]) : []),
    ];
    const windows = Object.keys(r.cohort.timing?.within ?? {});
    return {
      tooltip: { trigger: "axis", valueFormatter: (v: unknown) => pct(Number(v)) },
      legend: { top: 0 },
      grid: { left: 50, right: 16, top: 32, bottom: 30 },
      xAxis: { type: "category", data: windows.map((w) => t(`交付后 ${w.replace("minutes", "分钟").replace("hours", "小时").replace("days", "天")} 内`, `within ${w}`)) },
      yAxis: { type: "value", max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
      series: rows.map(([n, timing]) => ({ name: n, type: "bar" as const, data: windows.map((w) => timing?.within[w] ?? 0) })),
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [r, lang]); // t follows lang
  return (
    <Card title={t("根因分析", "Root-cause explorer")}>
      {report.error && <Alert type="error" message={report.error} />}
      {report.loading && !r && <Typography.Text>{t("正在分析（读取全部日志）…", "Analysing (reads the whole log)…")}</Typography.Text>}
      {r && (
        <Space direction="vertical" style={{ width: "100%" }}>
          <Descriptions
            size="small"
            column={{ xs: 1, sm: 3 }}
            items={[
              { key: "c", label: t("队列", "Cohort"), children: `${r.cohort.events}/${r.cohort.size} (${pct(r.cohort.rate)})` },
              { key: "o", label: t("对比组", "Comparison"), children: `${r.comparison.events}/${r.comparison.size} (${pct(r.comparison.rate)})` },
              { key: "r", label: t("倍数", "Ratio"), children: r.ratio == null ? "—" : `${r.ratio.toFixed(1)}×` },
            ]}
          />
          {r.sentences.map((s) => (
            <Typography.Paragraph key={s} style={{ margin: 0 }}>
              {s}
            </Typography.Paragraph>
          ))}
          {r.why_not && <Alert type="info" message={r.why_not} />}
          <Table
            size="small"
            rowKey="text"
            dataSource={r.subgroups}
            pagination={false}
            scroll={{ x: 560 }}
            locale={{ emptyText: t("没有显著的子群", "No subgroup stands out") }}
            columns={[
              {
                title: t("条件", "Conditions"),
                key: "c",
                render: (_: unknown, g: Subgroup) => (
                  <Space size={4} wrap>
                    {g.conditions.map((c) => (
                      <Tag key={c.attribute} color="volcano">
                        {c.attribute} {c.op} {c.value}
                      </Tag>
                    ))}
                  </Space>
                ),
              },
              { title: t("订单", "Orders"), dataIndex: "size", align: "right" },
              { title: t("事件", "Events"), dataIndex: "events", align: "right" },
              { title: t("比例", "Rate"), dataIndex: "rate", align: "right", render: pct },
              { title: t("提升", "Lift"), dataIndex: "lift", align: "right", render: (v: number) => `${v.toFixed(2)}×` },
              { title: "q", dataIndex: "q_value", align: "right", render: (v: number) => v.toExponential(1) },
            ]}
          />
          {r.cohort.timing && (
            <>
              <Typography.Text strong>{t("交付后多久发生（累计占比）", "How soon after delivery (cumulative share)")}</Typography.Text>
              <Chart option={option} label="time to event" height={220} />
            </>
          )}
          <Typography.Text type="secondary">
            {t("检验了", "Tested")} {r.search.tested} {t("个组合，属性：", "combinations of")} {r.search.attributes.join(", ")}
          </Typography.Text>
          {r.search.known_only_after_delivery.length > 0 && (
            <Typography.Text type="secondary">
              {t("交付后才知道、未作为原因检验：", "Known only after delivery, not searched as causes:")} {r.search.known_only_after_delivery.join(", ")}
            </Typography.Text>
          )}
        </Space>
      )}
    </Card>
  );
}
