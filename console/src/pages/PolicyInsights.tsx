// How a policy is doing: its A/B experiment (outcomes per arm with 95% CIs) and its health (use, latency, rules, execution).
import { Alert, Card, Descriptions, Empty, Grid, Space, Table, Tag, Typography } from "antd";
import { api } from "../lib/api";
import { useT } from "../lib/i18n";
import { useLoad } from "../lib/useLoad";

type Compared = { n: [number, number]; stable: number | null; candidate: number | null; difference: number | null; ci_low: number | null; ci_high: number | null };
export type Experiment = {
  policy: string;
  orders: { stable: number; candidate: number };
  versions: { stable: number[]; candidate: number[] };
  metrics: Record<string, Compared>;
  sample_ratio?: { chi2: number; p_value: number; mismatch: boolean };
};
type VersionHealth = {
  version: number;
  invocations: number;
  eval_us_p50: number | null;
  eval_us_p99: number | null;
  rule_hits: Record<string, number>;
  rules_never_hit: string[];
  execution_checked: number;
  execution_deviated: number;
  deviation_rate: number | null;
  alert?: boolean;
};
export type Health = { policy: string; stable: number | null; threshold: number; versions: VersionHealth[] };

// Every metric but on-time is better lower (complaints, returns, splits, cost).
const METRICS: { key: string; zh: string; en: string; higherBetter: boolean; money?: boolean }[] = [
  { key: "on_time", zh: "准时送达率", en: "On time", higherBetter: true },
  { key: "complaint", zh: "投诉率", en: "Complaints", higherBetter: false },
  { key: "returned", zh: "退货率", en: "Returns", higherBetter: false },
  { key: "split", zh: "拆单率", en: "Split orders", higherBetter: false },
  { key: "cost_per_order", zh: "单均履约成本", en: "Cost per order", higherBetter: false, money: true },
];

const FEW = 30; // orders per arm below which a "clear" difference is flagged as resting on few orders
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const signed = (v: number, digits: number): string => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(digits)}`;
const versionsText = (vs: number[]): string => (vs.length ? vs.map((v) => `v${v}`).join(", ") : "—");

export function ExperimentPanel({ name, percent, refresh }: { name: string; percent: number | null; refresh: number }): JSX.Element {
  const t = useT();
  const compact = !Grid.useBreakpoint().md;
  const rep = useLoad(() => api<Experiment>(`/v1/policies/${encodeURIComponent(name)}/experiment`), [name, refresh]);
  const data = rep.data?.policy === name ? rep.data : null;
  const total = data ? data.orders.stable + data.orders.candidate : 0;

  const value = (m: (typeof METRICS)[number], v: number | null): string => (v == null ? "—" : m.money ? v.toFixed(2) : pct(v));
  const diff = (m: (typeof METRICS)[number], c: Compared): string => {
    if (c.difference == null || c.ci_low == null || c.ci_high == null) return "—";
    const d = m.money ? 2 : 1;
    const k = m.money ? 1 : 100;
    const unit = m.money ? "" : t(" 个百分点", " pp");
    return `${signed(c.difference * k, d)}${unit} [${signed(c.ci_low * k, d)}, ${signed(c.ci_high * k, d)}]`;
  };
  const verdict = (m: (typeof METRICS)[number], c: Compared): JSX.Element => {
    if (c.difference == null || c.ci_low == null || c.ci_high == null) return <Tag>{t("数据不足", "Not enough data")}</Tag>;
    if (c.ci_low <= 0 && c.ci_high >= 0) return <Tag>{t("无显著差异", "No clear difference")}</Tag>;
    const better = c.difference > 0 === m.higherBetter;
    const tag = better ? <Tag color="green">{t("显著更好", "Clearly better")}</Tag> : <Tag color="red">{t("显著更差", "Clearly worse")}</Tag>;
    // The interval is a normal approximation: with a handful of orders per arm it says less than it seems.
    return Math.min(...c.n) < FEW ? (
      <Space size={0} wrap>
        {tag}
        <Typography.Text type="secondary">{t("样本少", "few orders")}</Typography.Text>
      </Space>
    ) : (
      tag
    );
  };
  const rows = data ? METRICS.filter((m) => data.metrics[m.key]).map((m) => ({ m, c: data.metrics[m.key] })) : [];

  return (
    <Card title={t("实验报告", "Experiment report")} aria-label="experiment report" data-testid="experiment" style={{ height: "100%" }}>
      {rep.error && <Alert type="warning" message={rep.error} />}
      {rep.loading && !data && !rep.error && <Typography.Text type="secondary">{t("加载中…", "Loading…")}</Typography.Text>}
      {data && total === 0 && (
        <Empty
          image={Empty.PRESENTED_IMAGE_SIMPLE}
          description={t(
            "暂无实验：还没有订单记录过该策略的决策（带订单号调用 /decide 的决策才计入实验）。",
            "No experiment yet: no order has a recorded decision of this policy (decisions made through /decide with an order id count).",
          )}
        />
      )}
      {data && total > 0 && (
        <Space direction="vertical" style={{ width: "100%" }}>
          <Descriptions
            size="small"
            column={1}
            items={[
              {
                key: "s",
                label: t("稳定组", "Stable arm"),
                children: `${versionsText(data.versions.stable)} · ${data.orders.stable} ${t("单", "orders")} (${pct(data.orders.stable / total)})`,
              },
              {
                key: "c",
                label: t("实验组", "Candidate arm"),
                children: `${versionsText(data.versions.candidate)} · ${data.orders.candidate} ${t("单", "orders")} (${pct(data.orders.candidate / total)})${
                  percent != null ? ` · ${t("目标", "target")} ${percent}%` : ""
                }`,
              },
            ]}
          />
          {data.sample_ratio &&
            (data.sample_ratio.mismatch ? (
              <Alert
                type="error"
                showIcon
                message={t("样本比例失衡：各组人数与灰度比例不符，这个实验不可信。", "Sample ratio mismatch: the arms are not the size the rollout asked for; do not trust this experiment.")}
                description={`χ² ${data.sample_ratio.chi2.toFixed(2)}, p ${data.sample_ratio.p_value.toExponential(1)}`}
              />
            ) : (
              <Typography.Text type="secondary">
                {t("样本比例检验通过", "Sample ratio check passed")} (χ² {data.sample_ratio.chi2.toFixed(2)}, p {data.sample_ratio.p_value.toFixed(3)})
              </Typography.Text>
            ))}
          <Table
            size="small"
            rowKey={(r) => r.m.key}
            pagination={false}
            dataSource={rows}
            scroll={compact ? undefined : { x: true }}
            columns={[
              {
                title: t("指标", "Metric"),
                key: "m",
                render: (_: unknown, { m, c }) => (
                  <Space direction="vertical" size={0}>
                    <Typography.Text strong>{t(m.zh, m.en)}</Typography.Text>
                    <Typography.Text type="secondary">n {c.n[0]} / {c.n[1]}</Typography.Text>
                    {compact && (
                      <>
                        <Typography.Text>
                          {value(m, c.stable)} → {value(m, c.candidate)}
                        </Typography.Text>
                        <Typography.Text type="secondary">{diff(m, c)}</Typography.Text>
                        <span>{verdict(m, c)}</span>
                      </>
                    )}
                  </Space>
                ),
              },
              ...(compact
                ? []
                : [
                    { title: t("稳定组", "Stable"), key: "s", align: "right" as const, render: (_: unknown, { m, c }: (typeof rows)[number]) => value(m, c.stable) },
                    { title: t("实验组", "Candidate"), key: "c", align: "right" as const, render: (_: unknown, { m, c }: (typeof rows)[number]) => value(m, c.candidate) },
                    { title: t("差异 [95% 置信区间]", "Difference [95% CI]"), key: "d", render: (_: unknown, { m, c }: (typeof rows)[number]) => diff(m, c) },
                    { title: t("结论", "Verdict"), key: "v", render: (_: unknown, { m, c }: (typeof rows)[number]) => verdict(m, c) },
                  ]),
            ]}
          />
        </Space>
      )}
    </Card>
  );
}

const latency = (us: number | null): string => (us == null ? "—" : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);

export function HealthPanel({ name, candidate, refresh }: { name: string; candidate: number | null; refresh: number }): JSX.Element {
  const t = useT();
  const compact = !Grid.useBreakpoint().md;
  const rep = useLoad(() => api<Health>(`/v1/policies/${encodeURIComponent(name)}/health`), [name, refresh]);
  const data = rep.data?.policy === name ? rep.data : null;
  const used = data ? data.versions.filter((v) => v.invocations > 0) : [];
  const decisions = used.reduce((s, v) => s + v.invocations, 0);

  const role = (v: VersionHealth): JSX.Element | null =>
    v.version === data?.stable ? <Tag color="blue">{t("全量", "stable")}</Tag> : v.version === candidate ? <Tag color="gold">{t("灰度", "candidate")}</Tag> : null;
  const rules = (v: VersionHealth): JSX.Element | string => {
    const hit = Object.keys(v.rule_hits).length;
    const all = hit + v.rules_never_hit.length;
    if (!all) return "—";
    return (
      <Space size={4} wrap>
        <span style={{ whiteSpace: "nowrap" }}>
          {t("命中", "hit")} {hit}/{all}
        </span>
        {v.rules_never_hit.length > 0 && (
          <Tag color="orange" style={{ marginInlineEnd: 0 }}>
            {v.rules_never_hit.length} {t("条从未命中", "never hit")}
          </Tag>
        )}
      </Space>
    );
  };
  const deviation = (v: VersionHealth): JSX.Element => {
    if (v.deviation_rate == null) return <Typography.Text type="secondary">{t("未核对", "not checked")}</Typography.Text>;
    const text = `${pct(v.deviation_rate)} (${v.execution_deviated}/${v.execution_checked})`;
    return v.alert ? (
      <Space size={4} wrap>
        <Typography.Text type="danger">{text}</Typography.Text>
        <Tag color="red">{t("超出阈值", "over threshold")}</Tag>
      </Space>
    ) : (
      <Typography.Text>{text}</Typography.Text>
    );
  };
  const detail = (v: VersionHealth): JSX.Element => (
    <Space direction="vertical" size={4}>
      <div>
        <Typography.Text type="secondary">{t("规则命中次数：", "Rule hits: ")}</Typography.Text>
        {Object.entries(v.rule_hits)
          .sort((a, b) => b[1] - a[1])
          .map(([r, n]) => (
            <Tag key={r}>
              {r} × {n}
            </Tag>
          ))}
      </div>
      {v.rules_never_hit.length > 0 && (
        <div>
          <Typography.Text type="secondary">{t("从未命中的规则：", "Rules never hit: ")}</Typography.Text>
          {v.rules_never_hit.map((r) => (
            <Tag key={r} color="orange">
              {r}
            </Tag>
          ))}
        </div>
      )}
    </Space>
  );

  return (
    <Card
      title={t("策略健康", "Policy health")}
      aria-label="policy health"
      data-testid="health"
      style={{ height: "100%" }}
      extra={data && <Typography.Text type="secondary">{t("偏差告警阈值", "deviation alert at")} {pct(data.threshold)}</Typography.Text>}
    >
      {rep.error && <Alert type="warning" message={rep.error} />}
      {rep.loading && !data && !rep.error && <Typography.Text type="secondary">{t("加载中…", "Loading…")}</Typography.Text>}
      {data && decisions === 0 && (
        <Empty
          image={Empty.PRESENTED_IMAGE_SIMPLE}
          description={`${t("还没有记录在案的决策", "No recorded decisions yet")} (${versionsText(data.versions.map((v) => v.version))}): ${t(
            "通过 /decide 做出的决策会在这里统计次数、耗时、规则命中和执行偏差。",
            "decisions made through /decide are counted here with their latency, rule hits and execution deviation.",
          )}`}
        />
      )}
      {data && decisions > 0 && (
        <Space direction="vertical" style={{ width: "100%" }}>
          {used.some((v) => v.alert) && (
            <Alert type="error" showIcon message={t("有版本的执行偏差超出阈值：规则可能正被下游绕开。", "A version's execution deviates above the threshold: the rule may be worked around downstream.")} />
          )}
          <Typography.Text>
            {decisions} {t("次决策", "decisions")}
          </Typography.Text>
          <Table
            size="small"
            rowKey="version"
            pagination={false}
            dataSource={[...used].reverse()}
            scroll={compact ? undefined : { x: true }}
            expandable={{
              expandedRowRender: detail,
              rowExpandable: (v: VersionHealth) => Object.keys(v.rule_hits).length + v.rules_never_hit.length > 0,
            }}
            columns={[
              {
                title: t("版本", "Version"),
                key: "v",
                render: (_: unknown, v: VersionHealth) => (
                  <Space direction="vertical" size={0}>
                    <Space size={4} style={{ whiteSpace: "nowrap" }}>
                      <Typography.Text strong>v{v.version}</Typography.Text>
                      {role(v)}
                    </Space>
                    {compact && (
                      <>
                        <Typography.Text>
                          {v.invocations} {t("次决策", "decisions")} · p50 {latency(v.eval_us_p50)} · p99 {latency(v.eval_us_p99)}
                        </Typography.Text>
                        <span>{rules(v)}</span>
                        <span>
                          {t("执行偏差", "Deviation")} {deviation(v)}
                        </span>
                      </>
                    )}
                  </Space>
                ),
              },
              ...(compact
                ? []
                : [
                    { title: t("决策数", "Decisions"), key: "n", align: "right" as const, render: (_: unknown, v: VersionHealth) => v.invocations },
                    { title: t("耗时 p50 / p99", "Latency p50 / p99"), key: "l", render: (_: unknown, v: VersionHealth) => <span style={{ whiteSpace: "nowrap" }}>{latency(v.eval_us_p50)} / {latency(v.eval_us_p99)}</span> },
                    { title: t("规则", "Rules"), key: "r", render: (_: unknown, v: VersionHealth) => rules(v) },
                    { title: t("执行偏差", "Execution deviation"), key: "d", render: (_: unknown, v: VersionHealth) => deviation(v) },
                  ]),
            ]}
          />
          {data.versions.length > used.length && (
            <Typography.Text type="secondary">
              {t("未被使用的版本：", "Versions not used: ")}
              {versionsText(data.versions.filter((v) => v.invocations === 0).map((v) => v.version))}
            </Typography.Text>
          )}
        </Space>
      )}
    </Card>
  );
}
