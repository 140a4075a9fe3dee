import { useState } from "react";
import { Grid, Tabs } from "antd";
import { useT } from "../lib/i18n";
import { Contracts } from "./valuestream/Contracts";
import { Detectors } from "./valuestream/Detectors";
import { Tasks } from "./valuestream/Tasks";
import { DepartmentViews, StreamMap } from "./valuestream/Views";

const TABS = ["contracts", "detectors", "tasks", "views", "map"] as const;

function initialTab(): string {
  const tab = new URLSearchParams(window.location.hash.split("?")[1] ?? "").get("tab") ?? "";
  return (TABS as readonly string[]).includes(tab) ? tab : TABS[0];
}

// The value stream across departments. Each tab loads only when first opened (several read the whole log),
// and the tab is part of the URL (#/valuestream?tab=tasks) so a board can be bookmarked.
export function ValueStream(): JSX.Element {
  const t = useT();
  const [tab, setTab] = useState(initialTab());
  // Narrow gaps on a phone keep all five Chinese tab names in view instead of behind the overflow menu.
  const phone = !Grid.useBreakpoint().sm;
  return (
    <Tabs
      activeKey={tab}
      tabBarGutter={phone ? 12 : undefined}
      onChange={(k) => {
        setTab(k);
        window.history.replaceState(null, "", `#/valuestream?tab=${k}`);
      }}
      items={[
        { key: "contracts", label: t("契约健康", "Contract health"), children: <Contracts /> },
        { key: "detectors", label: t("检测与根因", "Detectors & root cause"), children: <Detectors /> },
        { key: "tasks", label: t("部门任务", "Task boards"), children: <Tasks /> },
        { key: "views", label: t("部门视图", "Department views"), children: <DepartmentViews /> },
        { key: "map", label: t("价值流图", "Value-stream map"), children: <StreamMap /> },
      ]}
    />
  );
}
