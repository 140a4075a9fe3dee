import { createContext, useContext } from "react";

export type Lang = "zh" | "en";
export const LangContext = createContext<Lang>("zh");
export const useLang = (): Lang => useContext(LangContext);

// Pick the label for the current language from a {zh, en} pair or two strings.
export function useT(): (zh: string, en: string) => string {
  const lang = useLang();
  return (zh, en) => (lang === "zh" ? zh : en);
}
