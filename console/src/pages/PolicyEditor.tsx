// The JDM editor and Monaco are heavy, so this module loads only when someone opens a decision graph.
import "@gorules/jdm-editor/dist/style.css";
import "../lib/monaco";
import { DecisionGraph, JdmConfigProvider } from "@gorules/jdm-editor";
import type { DecisionGraphType } from "@gorules/jdm-editor";

export default function PolicyEditor({ value, onChange }: { value: DecisionGraphType; onChange: (v: DecisionGraphType) => void }): JSX.Element {
  return (
    <JdmConfigProvider>
      <div style={{ height: 520 }} aria-label="decision graph editor">
        <DecisionGraph value={value} onChange={onChange} />
      </div>
    </JdmConfigProvider>
  );
}
