import { useState } from "react";
import { Alert, Card, Descriptions, InputNumber, Select, Space, Table, Tag, Typography } from "antd";
import { api } from "../../lib/api";
import { useLang, useT } from "../../lib/i18n";
import { useLoad } from "../../lib/useLoad";
import { DOMAIN_ZH } from "./Contracts";

type ViewInfo = { name: string; department: string; title: string; roles: string[] };
type Row_ = Record<string, unknown>;
type MapStage = { stage: string; label: string; departments: { department: string; team: string; contract: string; fields: string[]; owed_from: string | null }[] };
type MapDoc = { stages: MapStage[]; departments: { department: string; team: string }[] };

const VIEW_ZH: Record<string, string> = {
  repurchase_by_channel: "各渠道复购率",
  rush_orders_by_customer: "各客户加急订单",
  days_to_cash_by_customer: "各客户回款天数",
  value_stream_health: "契约履约与剧本成功率",
};

// Rates and shares are fractions in the API; people read percentages.
export function cell(key: string, v: unknown): string {
  if (v == null) return "—";
  if (typeof v === "number" && /(_rate|_share)$/.test(key)) return `${(v * 100).toFixed(1)}%`;
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(2);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// A department view is an aggregate answer: its lists become tables, its totals a summary, whatever the view.
export function DepartmentViews(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const list = useLoad(() => api<{ views: ViewInfo[] }>("/v1/valuestream/views"), []);
  const [name, setName] = useState("value_stream_health");
  const [days, setDays] = useState<number | null>(null);
  const view = useLoad(() => api<Row_>(`/v1/valuestream/views/${name}${days ? `?days=${days}` : ""}`), [name, days]);
  const v = view.data;
  const tables = v ? Object.entries(v).filter(([, x]) => Array.isArray(x) && x.length > 0 && typeof x[0] === "object") : [];
  const totals = v ? Object.entries(v).filter(([k, x]) => (typeof x === "number" && k !== "position" && k !== "window_days") || (k === "overall" && typeof x === "object")) : [];
  return (
    <Card
      title={t("部门视图", "Department views")}
      extra={
        <Space wrap>
          <Select
            aria-label="view"
            value={name}
            onChange={setName}
            style={{ minWidth: 220 }}
            options={(list.data?.views ?? []).map((x) => ({
              value: x.name,
              label: `${lang === "zh" ? DOMAIN_ZH[x.department] ?? x.department : x.department} · ${lang === "zh" ? VIEW_ZH[x.name] ?? x.title : x.title}`,
            }))}
          />
          <InputNumber aria-label="view days" min={1} max={365} placeholder={t("天数", "days")} value={days} onChange={(d) => setDays(d)} addonAfter={t("天", "d")} style={{ width: 130 }} />
        </Space>
      }
    >
      {(view.error || list.error) && <Alert type="error" message={view.error ?? list.error} />}
      {view.loading && <Typography.Text type="secondary">{t("查询中…", "Querying…")}</Typography.Text>}
      {v && (
        <Space direction="vertical" style={{ width: "100%" }}>
          <Typography.Text type="secondary">
            {String(v.title ?? "")} · {t("窗口", "window")} {String(v.window_days ?? "—")} {t("天", "days")}
            {typeof v.note === "string" ? ` · ${v.note}` : ""}
          </Typography.Text>
          {totals.length > 0 && (
            <Descriptions
              size="small"
              bordered
              column={{ xs: 1, sm: 2, lg: 4 }}
              items={totals.flatMap(([k, x]) =>
                k === "overall" ? Object.entries(x as Row_).map(([kk, xx]) => ({ key: kk, label: kk, children: cell(kk, xx) })) : [{ key: k, label: k, children: cell(k, x) }],
              )}
            />
          )}
          {tables.map(([k, rows]) => {
            const data = rows as Row_[];
            return (
              <Table
                key={k}
                title={() => <Typography.Text strong>{k}</Typography.Text>}
                size="small"
                rowKey={(r) => String(Object.values(r)[0])}
                dataSource={data}
                pagination={{ pageSize: 10, hideOnSinglePage: true }}
                scroll={{ x: true }}
                columns={Object.keys(data[0]).map((c) => ({ title: c, dataIndex: c, render: (x: unknown) => cell(c, x) }))}
              />
            );
          })}
        </Space>
      )}
    </Card>
  );
}

// The value-stream map: the order's stages left to right, the departments that touch each, and the fields they bring.
export function StreamMap(): JSX.Element {
  const t = useT();
  const lang = useLang();
  const map = useLoad(() => api<MapDoc>(`/v1/valuestream/map?lang=${lang}`), [lang]);
  const stages = (map.data?.stages ?? []).filter((s) => s.departments.length > 0);
  const departments = map.data?.departments ?? [];
  return (
    <Card title={t("价值流图", "Value-stream map")}>
      {map.error && <Alert type="error" message={map.error} />}
      <Table
        size="small"
        rowKey="department"
        loading={map.loading && !map.data}
        dataSource={departments}
        pagination={false}
        scroll={{ x: 160 + 170 * stages.length }}
        columns={[
          {
            title: t("部门", "Department"),
            key: "d",
            fixed: "left",
            width: 120,
            render: (_: unknown, d: { department: string; team: string }) => <Typography.Text strong>{lang === "zh" ? DOMAIN_ZH[d.department] ?? d.team : d.team}</Typography.Text>,
          },
          ...stages.map((s) => ({
            title: s.label,
            key: s.stage,
            width: 170,
            render: (_: unknown, d: { department: string }) => {
              const touch = s.departments.find((x) => x.department === d.department);
              if (!touch) return null;
              return (
                <Space size={[2, 2]} wrap>
                  {touch.owed_from && <Tag color="gold">{t("SLA 起算", "SLA from")} {touch.owed_from}</Tag>}
                  {[...new Set(touch.fields)].map((f) => (
                    <Tag key={f} color="blue">
                      {f}
                    </Tag>
                  ))}
                </Space>
              );
            },
          })),
        ]}
      />
    </Card>
  );
}
