import { lazy, Suspense, useState } from "react";
import { Alert, AutoComplete, Button, Card, Col, Descriptions, InputNumber, Row, Select, Slider, Space, Table, Tag, Typography, message } from "antd";
import type { DecisionGraphType } from "@gorules/jdm-editor";
import { api, ApiError } from "../lib/api";
import { useT } from "../lib/i18n";
import { useLoad } from "../lib/useLoad";
import { ExperimentPanel, HealthPanel } from "./PolicyInsights";

const PolicyEditor = lazy(() => import("./PolicyEditor"));

type Version = { version: number; kind: string; note: string; author: string; digest: string };
type State = {
  name: string;
  stable: number | null;
  rollout: { stable: number | null; candidate: number; percent: number } | null;
  versions: Version[];
  history: { type: string; time: string; actor: string; data: Record<string, unknown> }[];
};
type Full = { kind: string; document: Record<string, unknown>; input_schema: Record<string, unknown>; tests: unknown[]; note: string };
type TestRun = { passed: boolean; results: { case: string; passed: boolean; problems?: { message: string }[] }[] };

const KNOWN = ["routing_default", "douyin_first_order", "coldchain_stall"];
const WEIGHTS: [string, number][] = [
  ["cost", 5],
  ["lateness", 20],
  ["load", 5],
  ["co2", 2],
  ["split_penalty", 50],
  ["radius_stretch", 1],
  ["rejection", 50],
];

function explain(e: unknown): string {
  if (e instanceof ApiError) return [e.message, ...e.problems.map((p) => `${p.field}: ${p.message}`)].join(" · ");
  return String(e);
}

// Strategy managers edit a policy, test it against its golden cases, and roll it out to a share of traffic.
export function Policies(): JSX.Element {
  const t = useT();
  const [name, setName] = useState("routing_default");
  const [picked, setPicked] = useState<number | null>(null);
  const [diffWith, setDiffWith] = useState<number | null>(null);
  const [draft, setDraft] = useState<Full | null>(null);
  const [percent, setPercent] = useState(10);
  const [tests, setTests] = useState<TestRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0); // a publish or rollback changes the arms: the insight panels ask again
  const state = useLoad(() => api<State>(`/v1/policies/${name}`), [name]);
  // While another policy's state is still on screen, its latest version number means nothing for this one.
  const current = state.data?.name === name ? state.data : undefined;
  const chosen = picked ?? current?.versions.at(-1)?.version ?? null;
  const full = useLoad(async () => {
    if (chosen == null) return null;
    const v = await api<Full>(`/v1/policies/${name}/versions/${chosen}`);
    setDraft(structuredClone(v));
    setTests(null);
    return v;
  }, [name, chosen]);
  const diff = useLoad(async () => {
    if (chosen == null || diffWith == null) return null;
    return api<{ changes: string[] }>(`/v1/policies/${name}/diff?a=${diffWith}&b=${chosen}`);
  }, [name, chosen, diffWith]);

  async function act(work: () => Promise<unknown>, done: string): Promise<void> {
    setError(null);
    try {
      await work();
      void message.success(done);
      state.reload();
      setRefresh((n) => n + 1);
    } catch (e) {
      setError(explain(e));
    }
  }
  const save = (): Promise<void> =>
    act(async () => {
      const saved = await api<{ version: number }>(`/v1/policies/${name}/versions`, {
        method: "POST",
        body: JSON.stringify({ ...draft, note: `${t("控制台编辑", "edited in the console")}` }),
      });
      setPicked(saved.version);
    }, t("已保存新版本", "Saved as a new version"));
  const runTests = (): Promise<void> =>
    act(async () => setTests(await api<TestRun>(`/v1/policies/${name}/versions/${chosen}/test`, { method: "POST" })), t("测试完成", "Tests ran"));
  const publish = (): Promise<void> =>
    act(() => api(`/v1/policies/${name}/publish`, { method: "POST", body: JSON.stringify({ version: chosen, percent, reason: "console" }) }), t("已发布", "Published"));
  const rollback = (): Promise<void> =>
    act(() => api(`/v1/policies/${name}/rollback`, { method: "POST", body: JSON.stringify({ version: chosen, reason: "console" }) }), t("已回滚", "Rolled back"));

  const weights = (draft?.document.weights as Record<string, number> | undefined) ?? {};
  const setWeight = (k: string, v: number): void =>
    setDraft((d) => (d ? { ...d, document: { ...d.document, weights: { ...weights, [k]: v } } } : d));

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Space wrap>
        <AutoComplete
          aria-label="policy name"
          value={name}
          options={KNOWN.map((n) => ({ value: n }))}
          onChange={(v) => {
            setName(v);
            setPicked(null);
            setDiffWith(null);
          }}
          style={{ width: 240 }}
        />
        <Select
          aria-label="version"
          value={chosen ?? undefined}
          placeholder={t("版本", "Version")}
          onChange={setPicked}
          options={(state.data?.versions ?? []).map((v) => ({ value: v.version, label: `v${v.version} ${v.note}` }))}
          style={{ width: 260 }}
        />
      </Space>
      {state.error && <Alert type="warning" message={state.error} />}
      {error && <Alert type="error" message={error} closable onClose={() => setError(null)} />}
      {state.data && (
        <Row gutter={[16, 16]}>
          <Col xs={24} lg={8}>
            <Card title={t("版本与发布", "Versions and rollout")}>
              <Descriptions size="small" column={1} items={[
                { key: "s", label: t("全量版本", "Stable"), children: state.data.stable ?? "—" },
                { key: "r", label: t("灰度", "Gray release"), children: state.data.rollout ? `v${state.data.rollout.candidate} → ${state.data.rollout.percent}%` : "—" },
              ]} />
              <Space wrap style={{ marginTop: 8 }}>
                <Button onClick={() => void runTests()} disabled={chosen == null}>{t("运行黄金测试", "Run golden tests")}</Button>
                <InputNumber aria-label="rollout percent" min={0} max={100} value={percent} onChange={(v) => setPercent(v ?? 0)} addonAfter="%" style={{ width: 120 }} />
                <Button type="primary" onClick={() => void publish()} disabled={chosen == null}>{t("发布", "Publish")}</Button>
                <Button danger onClick={() => void rollback()} disabled={chosen == null}>{t("回滚到此版本", "Roll back to this")}</Button>
              </Space>
              {tests && (
                <Alert
                  style={{ marginTop: 8 }}
                  type={tests.passed ? "success" : "error"}
                  message={`${tests.results.filter((r) => r.passed).length} ${t("通过", "passed")}, ${tests.results.filter((r) => !r.passed).length} ${t("失败", "failed")}`}
                  description={tests.results.filter((r) => !r.passed).flatMap((r) => (r.problems ?? []).map((p) => p.message)).slice(0, 5).join(" · ") || undefined}
                />
              )}
              <Table size="small" style={{ marginTop: 8 }} scroll={{ x: true }} rowKey={(h) => `${h.time}${h.type}`} pagination={{ pageSize: 5 }} dataSource={[...state.data.history].reverse()} columns={[
                { title: t("时间", "When"), dataIndex: "time", render: (v: string) => v.slice(0, 19) },
                { title: t("动作", "Action"), dataIndex: "type", render: (v: string) => <Tag>{v.replace("policy.", "")}</Tag> },
                { title: t("操作人", "Who"), dataIndex: "actor" },
              ]} />
            </Card>
          </Col>
          <Col xs={24} lg={16}>
            <Card
              title={t("编辑", "Edit") + (draft ? ` · ${draft.kind}` : "")}
              extra={<Button type="primary" onClick={() => void save()} disabled={!draft}>{t("另存为新版本", "Save as new version")}</Button>}
            >
              {full.loading && <Typography.Text>{t("加载中…", "Loading…")}</Typography.Text>}
              {draft?.kind === "routing_profile" && (
                <Space direction="vertical" style={{ width: "100%" }}>
                  {WEIGHTS.map(([k, max]) => (
                    <div key={k} data-weight={k}>
                      <Typography.Text>{k}: {weights[k] ?? "—"}</Typography.Text>
                      <Slider min={0} max={max} step={max / 100} value={weights[k] ?? 0} onChange={(v) => setWeight(k, v)} />
                    </div>
                  ))}
                </Space>
              )}
              {draft?.kind === "decision" && (
                <Suspense fallback={<Typography.Text>{t("加载编辑器…", "Loading the editor…")}</Typography.Text>}>
                  <PolicyEditor value={draft.document as unknown as DecisionGraphType} onChange={(g) => setDraft((d) => (d ? { ...d, document: g as unknown as Record<string, unknown> } : d))} />
                </Suspense>
              )}
              {draft && draft.kind !== "decision" && draft.kind !== "routing_profile" && (
                <pre style={{ maxHeight: 400, overflow: "auto" }}>{JSON.stringify(draft.document, null, 2)}</pre>
              )}
            </Card>
            <Card title={t("版本差异", "Diff")} style={{ marginTop: 16 }}>
              <Select aria-label="diff against" allowClear placeholder={t("与哪个版本比较", "Compare with")} value={diffWith ?? undefined} onChange={(v) => setDiffWith(v ?? null)}
                options={(state.data.versions ?? []).filter((v) => v.version !== chosen).map((v) => ({ value: v.version, label: `v${v.version}` }))} style={{ width: 200 }} />
              {diff.data && (
                <ul aria-label="changes">
                  {diff.data.changes.length === 0 && <li>{t("内容相同", "No differences")}</li>}
                  {diff.data.changes.map((c) => <li key={c}>{c}</li>)}
                </ul>
              )}
            </Card>
          </Col>
        </Row>
      )}
      {name && (
        // Each reads the whole log, so each loads on its own and never holds back the editor above.
        <Row gutter={[16, 16]}>
          <Col xs={24} xl={12}>
            <ExperimentPanel name={name} percent={state.data?.name === name ? state.data.rollout?.percent ?? null : null} refresh={refresh} />
          </Col>
          <Col xs={24} xl={12}>
            <HealthPanel name={name} candidate={state.data?.name === name ? state.data.rollout?.candidate ?? null : null} refresh={refresh} />
          </Col>
        </Row>
      )}
    </Space>
  );
}
