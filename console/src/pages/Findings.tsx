import { useMemo, useState } from "react";
import { Alert, Card, Collapse, Empty, Segmented, Space, Table, Tag, Typography } from "antd";
import { api } from "../lib/api";
import { useLang, useT } from "../lib/i18n";
import { useLoad } from "../lib/useLoad";
import { Each, useEach } from "../lib/useEach";

type Label = { zh: string; en: string };
export type Finding = {
  finding_id: string;
  oid: string;
  monitor: string;
  kind: string;
  severity: string;
  label: Label;
  evidence: Record<string, unknown>;
  opened_at: string;
};
type Group = {
  attributes: { attribute: string; value: string }[];
  n: number;
  with_finding: number;
  rate: number;
  elsewhere_rate: number;
  lift: number | null;
  p_adjusted: number;
  explained_by: string | null;
  sentence: string;
  sentence_zh: string;
};
type RootCauses = { orders: number; with_finding: number; groups_tested: number; causes: Group[]; explained: Group[] };

const SEVERITY: Record<string, { colour: string; rank: number; zh: string }> = {
  critical: { colour: "red", rank: 0, zh: "严重" },
  warning: { colour: "orange", rank: 1, zh: "警告" },
  info: { colour: "blue", rank: 2, zh: "提示" },
};
// The root-cause test needs at least this many orders with the finding in a group (the API's min_hits).
const MIN_HITS = 3;

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const age = (iso: string): string => {
  const s = (Date.now() - Date.parse(iso)) / 1000;
  return s < 3600 ? `${Math.max(1, Math.round(s / 60))} min` : s < 86400 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86400).toFixed(1)} d`;
};

// What triggered a finding, in one line: the reading over its limit, the step that never came, how long it waited.
export function evidenceText(f: Finding): string {
  const e = f.evidence;
  if (e.value !== undefined && e.limit !== undefined) return `${String(e.value)} > ${String(e.limit)}`;
  if (typeof e.probability_late === "number") return `P(late) ${pct(e.probability_late)}`;
  const expected = Array.isArray(e.expected) ? (e.expected as string[]).join(" / ") : "";
  return [e.event_type, expected && `→ ${expected}`].filter(Boolean).join(" ");
}

// Open findings grouped by monitor, each group with what its orders have in common (its root causes).
export function Findings(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const [severity, setSeverity] = useState("all");
  const found = useLoad(() => api<{ findings: Finding[] }>("/v1/monitors/findings?state=open&limit=1000"), []);
  const all = useMemo(() => {
    const by = new Map<string, Finding[]>();
    for (const f of found.data?.findings ?? []) by.set(f.monitor, [...(by.get(f.monitor) ?? []), f]);
    const rank = (s: string): number => SEVERITY[s]?.rank ?? 9;
    return [...by.values()].sort((a, b) => rank(a[0].severity) - rank(b[0].severity) || b.length - a.length);
  }, [found.data]);
  const groups = all.filter((g) => severity === "all" || g[0].severity === severity);
  // Root causes read the whole log on the server: asked only where a cause is possible (enough findings),
  // and not asked again when the filter changes.
  const causes = useEach(
    all.filter((g) => g.length >= MIN_HITS).map((g) => g[0].monitor),
    (m) => api<RootCauses>(`/v1/monitors/${m}/root-causes`),
  );
  const total = found.data?.findings.length ?? 0;
  return (
    <Card
      title={t("未关闭的监控发现", "Open monitor findings")}
    >
      {found.error && <Alert type="error" message={found.error} />}
      {found.loading && !found.data && <Typography.Text>{t("加载中…", "Loading…")}</Typography.Text>}
      {/* The filter sits in the body, not the title bar, so the title stays readable on a phone. */}
      <Space wrap style={{ marginBottom: 8 }}>
          <Segmented
            aria-label="severity"
            value={severity}
            onChange={(v) => setSeverity(String(v))}
            options={[{ value: "all", label: t("全部", "All") }, ...Object.entries(SEVERITY).map(([k, s]) => ({ value: k, label: lang === "zh" ? s.zh : k }))]}
          />
      </Space>
      {found.data && (
        <Typography.Paragraph type="secondary">
          {total} {t("条未关闭，来自", "open, from")} {new Set(found.data.findings.map((f) => f.monitor)).size} {t("个监控", "monitors")}
        </Typography.Paragraph>
      )}
      {found.data && groups.length === 0 && <Empty description={t("没有未关闭的发现", "No open findings")} />}
      <Collapse
        aria-label="findings by monitor"
        items={groups.map((g) => ({
          key: g[0].monitor,
          label: <GroupHeader findings={g} rc={causes[g[0].monitor]} />,
          children: <GroupBody findings={g} rc={causes[g[0].monitor]} />,
        }))}
      />
    </Card>
  );
}

function severityTag(s: string, lang: string): JSX.Element {
  const sev = SEVERITY[s];
  return <Tag color={sev?.colour ?? "default"}>{lang === "zh" && sev ? sev.zh : s}</Tag>;
}

type Causes = Each<RootCauses>;

type GroupProps = { findings: Finding[]; rc: Causes[string] | undefined };

function GroupHeader({ findings, rc }: GroupProps): JSX.Element {
  const t = useT();
  const lang = useLang();
  const first = findings[0];
  const cause = rc?.data?.causes[0];
  return (
    <Space direction="vertical" size={2} style={{ width: "100%" }}>
      <Space wrap>
        {severityTag(first.severity, lang)}
        <Typography.Text strong>{first.label[lang]}</Typography.Text>
        <Tag>{findings.length}</Tag>
      </Space>
      {findings.length >= MIN_HITS && !rc && <Typography.Text type="secondary">{t("正在分析根因…", "Looking for a root cause…")}</Typography.Text>}
      {cause && (
        <Typography.Text type="danger" data-testid="root-cause">
          {t("根因", "Root cause")}: {lang === "zh" ? cause.sentence_zh : cause.sentence}
        </Typography.Text>
      )}
    </Space>
  );
}

function GroupBody({ findings, rc }: GroupProps): JSX.Element {
  const t = useT();
  const lang = useLang();
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      {rc?.error && <Alert type="warning" message={rc.error} />}
      {rc?.data && (
        <Card size="small" title={t("根因分组", "Root-cause groups")}>
          <Typography.Paragraph type="secondary">
            {rc.data.with_finding}/{rc.data.orders} {t("单有此发现；检验了", "orders have this finding; groups tested:")} {rc.data.groups_tested}
            {t(" 个分组", "")}
          </Typography.Paragraph>
          {rc.data.causes.length === 0 && <Typography.Text>{t("没有显著的共同点", "Nothing in common stands out")}</Typography.Text>}
          <ul style={{ paddingLeft: 18, margin: 0 }}>
            {rc.data.causes.map((g) => (
              <li key={g.sentence}>
                <Typography.Text strong>{lang === "zh" ? g.sentence_zh : g.sentence}</Typography.Text>{" "}
                <Typography.Text type="secondary">
                  ({t("提升", "lift")} {g.lift ?? "∞"}×, q={g.p_adjusted.toExponential(1)})
                </Typography.Text>
              </li>
            ))}
            {rc.data.explained.map((g) => (
              <li key={g.sentence}>
                <Typography.Text type="secondary">
                  {t("随之偏高（已由根因解释）", "Also elevated, explained by the cause")}: {lang === "zh" ? g.sentence_zh : g.sentence}
                </Typography.Text>
              </li>
            ))}
          </ul>
        </Card>
      )}
      <Table
        size="small"
        rowKey="finding_id"
        dataSource={findings}
        pagination={{ pageSize: 8, hideOnSinglePage: true }}
        scroll={{ x: true }}
        columns={[
          { title: t("订单", "Order"), dataIndex: "oid", render: (oid: string) => <a href={`#/lens?oid=${encodeURIComponent(oid)}`} style={{ whiteSpace: "nowrap" }}>{oid}</a> },
          { title: t("已开", "Open for"), dataIndex: "opened_at", render: age },
          { title: t("证据", "Evidence"), key: "e", render: (_: unknown, f: Finding) => evidenceText(f) },
        ]}
      />
    </Space>
  );
}
