import { useEffect, useState } from "react";
import { ConfigProvider, Input, Layout, Menu, Segmented, Typography } from "antd";
import zhCN from "antd/locale/zh_CN";
import enUS from "antd/locale/en_US";
import { getKey, setKey } from "./lib/api";
import { Lang, LangContext } from "./lib/i18n";
import { Intelligence } from "./pages/Intelligence";
import { Network } from "./pages/Network";
import { OrderLens } from "./pages/OrderLens";
import { Policies } from "./pages/Policies";
import { ValueStream } from "./pages/ValueStream";

type Page = { id: string; zh: string; en: string; render: () => JSX.Element };

// Pages are addressed by the URL hash (#/lens?oid=...), so every view can be bookmarked and shared.
export const PAGES: Page[] = [
  { id: "lens", zh: "订单透视", en: "Order lens", render: () => <OrderLens /> },
  { id: "network", zh: "网络与路由", en: "Network & routing", render: () => <Network /> },
  { id: "policies", zh: "策略", en: "Policies", render: () => <Policies /> },
  { id: "intelligence", zh: "状态智能", en: "Status intelligence", render: () => <Intelligence /> },
  { id: "valuestream", zh: "价值流", en: "Value stream", render: () => <ValueStream /> },
];

function currentPage(): string {
  const id = window.location.hash.replace(/^#\/?/, "").split("?")[0];
  return PAGES.some((p) => p.id === id) ? id : PAGES[0].id;
}

export function App(): JSX.Element {
  const [lang, setLang] = useState<Lang>((localStorage.getItem("orderloom.lang") as Lang) || "zh");
  const [page, setPage] = useState(currentPage());
  const [key, setKeyState] = useState(getKey());
  useEffect(() => {
    const onHash = (): void => setPage(currentPage());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const shown = PAGES.find((p) => p.id === page) ?? PAGES[0];
  return (
    <LangContext.Provider value={lang}>
      <ConfigProvider locale={lang === "zh" ? zhCN : enUS}>
        <Layout style={{ minHeight: "100vh" }}>
          <Layout.Header style={{ display: "flex", alignItems: "center", gap: 16, flexWrap: "wrap", height: "auto" }}>
            <Typography.Title level={4} style={{ color: "#fff", margin: 0 }}>
              Orderloom
            </Typography.Title>
            <Menu
              theme="dark"
              mode="horizontal"
              selectedKeys={[shown.id]}
              style={{ flex: 1, minWidth: 200 }}
              items={PAGES.map((p) => ({ key: p.id, label: <a href={`#/${p.id}`}>{lang === "zh" ? p.zh : p.en}</a> }))}
            />
            <Input.Password
              aria-label="API key"
              placeholder={lang === "zh" ? "API 密钥" : "API key"}
              value={key}
              style={{ width: 220 }}
              onChange={(e) => {
                setKeyState(e.target.value);
                setKey(e.target.value);
              }}
            />
            <Segmented
              aria-label="language"
              value={lang}
              options={[
                { label: "中文", value: "zh" },
                { label: "EN", value: "en" },
              ]}
              onChange={(v) => {
                setLang(v as Lang);
                localStorage.setItem("orderloom.lang", String(v));
              }}
            />
          </Layout.Header>
          <Layout.Content style={{ padding: 16 }}>{shown.render()}</Layout.Content>
        </Layout>
      </ConfigProvider>
    </LangContext.Provider>
  );
}
