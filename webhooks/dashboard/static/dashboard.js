// chatdesk dashboard: fetches /dashboard/data and draws it with Apache ECharts (served locally).
"use strict";
(function () {
  const charts = {};
  let days = Number(new URLSearchParams(location.search).get("days")) || 30;
  const $ = (id) => document.getElementById(id);
  const dur = (s) => {
    if (s == null) return "—";
    const m = Math.round(s / 60); const d = Math.floor(m / 1440); const h = Math.floor((m % 1440) / 60);
    return d ? `${d}天${h}小时` : h ? `${h}小时${m % 60}分` : `${m}分`;
  };
  const chart = (name) => charts[name] || (charts[name] = echarts.init(document.querySelector(`[data-chart="${name}"]`), null, { renderer: "canvas" }));
  const base = { tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 24, top: 40, bottom: 20, containLabel: true } };
  function draw(d) {
    const k = d.kpi;
    $("period").textContent = `${d.period.start} 至 ${d.period.end}`;
    $("kpi-created").textContent = k.created;
    $("kpi-closed").textContent = k.closed;
    $("kpi-open").textContent = k.open;
    $("kpi-first").textContent = dur(k.first_response_s);
    $("kpi-resolve").textContent = dur(k.resolution_s);
    $("kpi-sla").textContent = k.sla_total ? `${Math.round((100 * k.sla_met) / k.sla_total)}%` : "—";
    $("kpi-rating").textContent = k.avg_rating == null ? "—" : k.avg_rating.toFixed(1);
    $("kpi-parts").textContent = `¥${k.parts_cost.toFixed(2)}`;
    chart("status").setOption({ tooltip: { trigger: "item" }, legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], data: d.by_status.map((s) => ({ name: s.label, value: s.n })) }] }, true);
    chart("region").setOption({ ...base, xAxis: { type: "category", data: d.by_region.map((r) => r.region) }, yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: "工单", data: d.by_region.map((r) => r.n), barMaxWidth: 48 }] }, true);
    chart("daily").setOption({ ...base, legend: { data: ["新建", "关闭"] }, xAxis: { type: "category", data: d.daily.days }, yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "line", name: "新建", data: d.daily.created, smooth: false }, { type: "line", name: "关闭", data: d.daily.closed, smooth: false }] }, true);
    chart("times").setOption({ ...base, legend: { data: ["首次响应（分钟）", "解决用时（小时）"] }, xAxis: { type: "category", data: d.weekly.weeks },
      yAxis: [{ type: "value", name: "分钟" }, { type: "value", name: "小时" }],
      series: [{ type: "bar", name: "首次响应（分钟）", data: d.weekly.first_response_min }, { type: "line", name: "解决用时（小时）", yAxisIndex: 1, data: d.weekly.resolution_h }] }, true);
    chart("sla").setOption({ ...base, xAxis: { type: "category", data: d.weekly.weeks }, yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{ type: "line", name: "SLA 达成率", data: d.weekly.sla_pct, connectNulls: true, areaStyle: { opacity: 0.15 } }] }, true);
    const eng = d.engineers.slice().reverse();
    chart("engineers").setOption({ ...base, xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", data: eng.map((e) => e.name) },
      series: [{ type: "bar", name: "关闭工单", data: eng.map((e) => e.closed), barMaxWidth: 28 }] }, true);
    chart("ratings").setOption({ ...base, xAxis: { type: "category", data: ["1分", "2分", "3分", "4分", "5分"] }, yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: "评价数", data: d.ratings, barMaxWidth: 40 }] }, true);
    chart("parts").setOption({ ...base, legend: { data: ["数量", "成本（元）"] }, xAxis: { type: "category", data: d.parts.map((p) => `${p.sku} ${p.name}`) },
      yAxis: [{ type: "value", name: "数量", minInterval: 1 }, { type: "value", name: "元" }],
      series: [{ type: "bar", name: "数量", data: d.parts.map((p) => p.qty) }, { type: "bar", name: "成本（元）", yAxisIndex: 1, data: d.parts.map((p) => p.cost) }] }, true);
    const tbody = $("engineers"); tbody.textContent = "";
    for (const e of d.engineers) {
      const tr = document.createElement("tr");
      for (const v of [e.name, e.closed, e.avg_rating == null ? "—" : e.avg_rating.toFixed(1), e.resolution_h == null ? "—" : e.resolution_h.toFixed(1)]) {
        const td = document.createElement("td"); td.textContent = String(v); tr.append(td);
      }
      tbody.append(tr);
    }
    document.body.dataset.ready = "1";
  }
  async function load() {
    document.body.dataset.ready = "";
    for (const b of document.querySelectorAll(".days button")) b.setAttribute("aria-pressed", String(Number(b.dataset.days) === days));
    $("export").href = `/dashboard/tickets.csv?days=${days}`;
    const r = await fetch(`/dashboard/data?days=${days}`, { credentials: "same-origin" });
    if (r.status === 401) { location.reload(); return; }
    draw(await r.json());
  }
  for (const b of document.querySelectorAll(".days button")) b.addEventListener("click", () => { days = Number(b.dataset.days); load(); });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  load();
})();
