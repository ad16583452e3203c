/**
 * deploy/tack-alerts.yml is ready to load (#15): well-formed Prometheus rule groups whose
 * expressions only name metrics a running tack exports.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { startTestTack } from "../helpers/tack.ts";

interface RuleFile {
  groups: {
    name: string;
    rules: { alert: string; expr: string; for?: string; annotations?: { summary?: string } }[];
  }[];
}

test("every alert has a name, an expression over exported metrics and a summary (#15)", async () => {
  const text = await Bun.file(
    join(import.meta.dir, "..", "..", "deploy", "tack-alerts.yml"),
  ).text();
  const rules = Bun.YAML.parse(text) as RuleFile;
  await using service = await startTestTack();
  const exported = new Set(
    [...(await (await fetch(`${service.http}/metrics`)).text()).matchAll(/^# HELP (\S+) /gm)].map(
      (match) => match[1],
    ),
  );
  const alerts = rules.groups.flatMap((group) => group.rules);
  expect(alerts.length).toBeGreaterThan(5);
  for (const rule of alerts) {
    expect(rule.alert).toMatch(/^Tack[A-Za-z]+$/);
    expect(rule.annotations?.summary).toBeString();
    if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
    const names = rule.expr.match(/\b(?:tack|process)_[a-z_]+\b/g) ?? [];
    for (const name of names) expect(exported, `${rule.alert}: ${name}`).toContain(name);
  }
  // Jetstream is alerted on by time disconnected, not by lag (a quiet spindle has little).
  const jetstream = alerts.find((rule) => rule.alert === "TackJetstreamDisconnected");
  expect(jetstream?.expr).toContain("tack_jetstream_disconnected_seconds");
  expect(alerts.some((rule) => rule.expr.includes("lag"))).toBe(false);
});
