import { useEffect, useRef } from "react";
import * as echarts from "echarts";

// A thin ECharts host: the chart follows its container's width, so pages work from phone to desktop.
export function Chart({ option, height = 360, label }: { option: echarts.EChartsOption; height?: number; label: string }): JSX.Element {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = echarts.init(ref.current);
    chart.setOption(option);
    const resize = new ResizeObserver(() => chart.resize());
    resize.observe(ref.current);
    return () => {
      resize.disconnect();
      chart.dispose();
    };
  }, [option]);
  return <div ref={ref} role="img" aria-label={label} style={{ width: "100%", height }} />;
}
