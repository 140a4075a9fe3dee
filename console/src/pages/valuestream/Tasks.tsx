import { Fragment, useMemo, useState } from "react";
import { Alert, Badge, Button, Card, Col, Descriptions, Drawer, Empty, Input, Row, Segmented, Space, Tag, Timeline, Typography } from "antd";
import { api, ApiError } from "../../lib/api";
import { useLang, useT } from "../../lib/i18n";
import { useLoad } from "../../lib/useLoad";
import { DOMAIN_ZH } from "./Contracts";
import { cell } from "./Views";

type Label = { zh: string; en: string };
export type Task = {
  task_id: string;
  team: string;
  title: Label;
  priority: string;
  due: string;
  state: string;
  owner: string | null;
  oid: string | null;
  evidence: Record<string, unknown>;
  source?: { playbook?: string; step?: string };
  comments: { time: string; actor: string; text: string; state: string }[];
  overdue: boolean;
  updated_at?: string;
};

const COLUMNS = [
  { key: "open", zh: "待处理", en: "Open", states: ["open"] },
  { key: "in_progress", zh: "处理中", en: "In progress", states: ["in_progress"] },
  { key: "closed", zh: "已完成", en: "Closed", states: ["done", "cancelled"] },
];
const TEAM_ZH: Record<string, string> = { ...DOMAIN_ZH, cs: "客服", ops: "运营" };
const PRIORITY: Record<string, string> = { urgent: "red", high: "volcano", normal: "blue", low: "default" };
const PRIORITY_ZH: Record<string, string> = { urgent: "紧急", high: "高", normal: "普通", low: "低" };

// Each department's board: the tasks playbooks gave it, by state; open one to read the evidence and move it along.
export function Tasks(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const all = useLoad(() => api<{ tasks: Task[] }>("/v1/tasks?limit=1000"), []);
  const teams = useMemo(() => [...new Set((all.data?.tasks ?? []).map((x) => x.team))].sort(), [all.data]);
  const [team, setTeam] = useState<string>("all");
  const [open, setOpen] = useState<string | null>(null);
  // The list is a view the pipeline folds a moment after a change; the change's own answer (read from the
  // task's stream) is shown until the list has caught up, so a moved card never jumps back.
  const [fresh, setFresh] = useState<Record<string, Task>>({});
  const latest = (x: Task): Task => {
    const f = fresh[x.task_id];
    return f && (f.updated_at ?? "") >= (x.updated_at ?? "") ? { ...x, ...f, overdue: x.overdue && f.state === x.state } : x;
  };
  const shown = (all.data?.tasks ?? []).map(latest).filter((x) => team === "all" || x.team === team);
  const teamName = (k: string): string => (lang === "zh" ? TEAM_ZH[k] ?? k : k);
  return (
    <Card title={t("部门任务看板", "Department task boards")}>
      <Space direction="vertical" style={{ width: "100%" }}>
        <Segmented
          aria-label="team"
          value={team}
          onChange={(v) => setTeam(String(v))}
          options={[{ value: "all", label: t("全部", "All") }, ...teams.map((k) => ({ value: k, label: teamName(k) }))]}
          style={{ maxWidth: "100%", overflowX: "auto" }}
        />
        {all.error && <Alert type="error" message={all.error} />}
        {all.loading && !all.data && <Typography.Text>{t("加载中…", "Loading…")}</Typography.Text>}
        <Row gutter={[12, 12]}>
          {COLUMNS.map((c) => {
            const tasks = shown.filter((x) => c.states.includes(x.state));
            return (
              <Col xs={24} md={8} key={c.key}>
                <Card size="small" type="inner" title={
                    <Space>
                      {t(c.zh, c.en)}
                      <Badge count={tasks.length} showZero color="#8c8c8c" />
                    </Space>
                  } data-column={c.key}>
                  {tasks.length === 0 && <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("无", "None")} />}
                  {/* A long column scrolls on its own, so the other columns stay in view. */}
                  <Space direction="vertical" style={{ width: "100%", maxHeight: 640, overflowY: "auto" }}>
                    {tasks.map((x) => (
                      <Card
                        key={x.task_id}
                        size="small"
                        hoverable
                        role="button"
                        tabIndex={0}
                        aria-label={`task ${x.task_id}`}
                        onClick={() => setOpen(x.task_id)}
                        onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), setOpen(x.task_id))}
                      >
                        <Typography.Paragraph style={{ marginBottom: 4 }} ellipsis={{ rows: 3 }}>
                          {x.title[lang]}
                        </Typography.Paragraph>
                        <Space size={4} wrap>
                          <Tag>{teamName(x.team)}</Tag>
                          <Tag color={PRIORITY[x.priority] ?? "default"}>{lang === "zh" ? PRIORITY_ZH[x.priority] ?? x.priority : x.priority}</Tag>
                          <Tag color={x.overdue ? "red" : undefined}>
                            {x.overdue ? t("已逾期", "overdue") : t("截止", "due")} {new Date(x.due).toLocaleString()}
                          </Tag>
                          {x.owner && <Tag color="geekblue">{x.owner}</Tag>}
                        </Space>
                      </Card>
                    ))}
                  </Space>
                </Card>
              </Col>
            );
          })}
        </Row>
      </Space>
      <Drawer open={open !== null} onClose={() => setOpen(null)} width={Math.min(560, window.innerWidth)} title={t("任务", "Task")} destroyOnClose>
        {open && (
          <TaskDetail
            id={open}
            onChanged={(task) => {
              setFresh((f) => ({ ...f, [task.task_id]: task }));
              all.reload();
            }}
          />
        )}
      </Drawer>
    </Card>
  );
}

const NEXT: Record<string, { state: string; zh: string; en: string }[]> = {
  open: [{ state: "in_progress", zh: "开始处理", en: "Start" }, { state: "cancelled", zh: "取消", en: "Cancel" }],
  in_progress: [{ state: "done", zh: "完成", en: "Done" }, { state: "open", zh: "退回", en: "Back to open" }],
};

export function TaskDetail({ id, onChanged }: { id: string; onChanged: (task: Task) => void }): JSX.Element {
  const t = useT();
  const lang = useLang();
  const task = useLoad(() => api<Task>(`/v1/tasks/${encodeURIComponent(id)}`), [id]);
  const [comment, setComment] = useState("");
  const [owner, setOwner] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function change(body: Record<string, unknown>): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      const updated = await api<Task>(`/v1/tasks/${encodeURIComponent(id)}`, { method: "POST", body: JSON.stringify(body) });
      setComment("");
      task.reload();
      onChanged(updated);
    } catch (e) {
      const problems = e instanceof ApiError ? e.problems.map((p) => `${p.field}: ${p.message}`).join("; ") : "";
      setError(problems || (e instanceof ApiError ? e.message : String(e)));
    } finally {
      setBusy(false);
    }
  }
  const x = task.data;
  if (task.error) return <Alert type="error" message={task.error} />;
  if (!x) return <Typography.Text>{t("加载中…", "Loading…")}</Typography.Text>;
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Typography.Title level={5}>{x.title[lang]}</Typography.Title>
      <Descriptions
        size="small"
        column={1}
        items={[
          { key: "s", label: t("状态", "State"), children: <Tag>{x.state}</Tag> },
          { key: "d", label: t("截止", "Due"), children: new Date(x.due).toLocaleString() },
          { key: "o", label: t("订单/来源", "Order / stream"), children: x.oid ? <a href={`#/lens?oid=${encodeURIComponent(x.oid)}`}>{x.oid}</a> : "—" },
          { key: "p", label: t("剧本", "Playbook"), children: x.source?.playbook ? `${x.source.playbook} · ${x.source.step ?? ""}` : "—" },
        ]}
      />
      <Card size="small" title={t("证据", "Evidence")}>
        <Evidence value={x.evidence} />
      </Card>
      {error && <Alert type="error" message={error} />}
      <Space wrap>
        {(NEXT[x.state] ?? []).map((n) => (
          <Button key={n.state} type={n.state === "done" || n.state === "in_progress" ? "primary" : "default"} loading={busy} onClick={() => void change({ state: n.state })}>
            {t(n.zh, n.en)}
          </Button>
        ))}
      </Space>
      <Space.Compact style={{ width: "100%" }}>
        <Input aria-label="owner" placeholder={t("负责人", "Owner")} value={owner ?? x.owner ?? ""} onChange={(e) => setOwner(e.target.value)} />
        <Button onClick={() => void change({ owner: owner?.trim() || null })} loading={busy}>
          {t("指派", "Assign")}
        </Button>
      </Space.Compact>
      <Input.TextArea aria-label="comment" rows={2} maxLength={2000} value={comment} onChange={(e) => setComment(e.target.value)} placeholder={t("备注", "Comment")} />
      <Button disabled={!comment.trim()} loading={busy} onClick={() => void change({ comment: comment.trim() })}>
        {t("添加备注", "Add comment")}
      </Button>
      {x.comments.length > 0 && (
        <Timeline
          items={x.comments.map((c) => ({
            key: c.time + c.text,
            children: (
              <>
                <Typography.Text type="secondary">{new Date(c.time).toLocaleString()} · {c.state}</Typography.Text>
                <div>{c.text}</div>
              </>
            ),
          }))}
        />
      )}
    </Space>
  );
}

const isLabel = (v: unknown): v is Label =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).sort().join() === "en,zh";

// Evidence is whatever the playbook put there (sentences, figures, nested answers): shown as readable text, not JSON.
function Evidence({ value, name = "" }: { value: unknown; name?: string }): JSX.Element {
  const lang = useLang();
  if (isLabel(value)) return <span>{value[lang]}</span>;
  if (value == null || value === "") return <Typography.Text type="secondary">—</Typography.Text>;
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object" || v === null)) {
      return <div>{value.map((v, i) => <div key={i}>{cell(name, v)}</div>)}</div>;
    }
    return (
      <ol style={{ paddingLeft: 18, margin: 0 }}>
        {value.map((v, i) => (
          <li key={i}>
            <Evidence value={v} />
          </li>
        ))}
      </ol>
    );
  }
  if (typeof value === "object") {
    return (
      <div style={{ display: "grid", gridTemplateColumns: "minmax(60px, max-content) 1fr", gap: "2px 8px", minWidth: 0 }}>
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <Fragment key={k}>
            <Typography.Text type="secondary">{k}</Typography.Text>
            <div style={{ minWidth: 0, overflowWrap: "anywhere" }}>
              <Evidence value={v} name={k} />
            </div>
          </Fragment>
        ))}
      </div>
    );
  }
  return <span>{cell(name, value)}</span>;
}
