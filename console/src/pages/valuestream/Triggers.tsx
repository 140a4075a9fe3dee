import { Alert, Card, List, Space, Statistic, Tag, Typography } from "antd";
import { api } from "../../lib/api";
import { useT } from "../../lib/i18n";
import { useLoad } from "../../lib/useLoad";

type Recent = { id: string; type: string; subject: string; time: string; tasks_owed: number; tasks_created: number; playbooks: string[]; outcome: string };
export type Triggers = {
  window_days: number;
  findings: number;
  succeeded: number;
  failed: number;
  no_playbook: number;
  pending: number;
  trigger_success_rate: number | null;
  recent: Recent[];
};

const OUTCOME: Record<string, { colour: string; zh: string }> = {
  succeeded: { colour: "green", zh: "已闭环" },
  failed: { colour: "red", zh: "失败" },
  no_playbook: { colour: "volcano", zh: "无人处理" },
  pending: { colour: "blue", zh: "进行中" },
};

// Did every firing set someone to work? Detector firings and at-risk customers, and what their playbooks did.
export function TriggerLoop(): JSX.Element {
  const t = useT();
  const doc = useLoad(() => api<Triggers>("/v1/valuestream/findings?limit=10"), []);
  const d = doc.data;
  return (
    <Card title={t("触发闭环", "Did the firings get acted on?")}>
      {doc.error && <Alert type="error" message={doc.error} />}
      {d && (
        <Space direction="vertical" style={{ width: "100%" }}>
          <Space wrap size="large">
            <Statistic
              title={t(`触发成功率（${d.window_days} 天）`, `Trigger success rate (${d.window_days} d)`)}
              value={d.trigger_success_rate == null ? "—" : (d.trigger_success_rate * 100).toFixed(0)}
              suffix={d.trigger_success_rate == null ? undefined : "%"}
            />
            <Typography.Text type="secondary">
              {d.findings} {t("次触发", "findings")} · {t("闭环", "succeeded")} {d.succeeded} · {t("失败", "failed")} {d.failed} ·{" "}
              {t("无人处理", "no playbook")} {d.no_playbook} · {t("进行中", "pending")} {d.pending}
            </Typography.Text>
          </Space>
          <List
            size="small"
            dataSource={d.recent}
            locale={{ emptyText: t("窗口内没有触发", "Nothing fired in the window") }}
            renderItem={(r) => {
              const o = OUTCOME[r.outcome];
              return (
                <List.Item>
                  <Space wrap size={4}>
                    <Tag color={o?.colour}>{t(o?.zh ?? r.outcome, r.outcome.replace("_", " "))}</Tag>
                    <Typography.Text strong>{r.subject}</Typography.Text>
                    <Typography.Text type="secondary">{new Date(r.time).toLocaleString()}</Typography.Text>
                    <Typography.Text>
                      {t("任务", "tasks")} {r.tasks_created}/{r.tasks_owed}
                    </Typography.Text>
                    {r.playbooks.map((p) => (
                      <Tag key={p}>{p}</Tag>
                    ))}
                  </Space>
                </List.Item>
              );
            }}
          />
        </Space>
      )}
    </Card>
  );
}
