//! The stylesheet every page shares: the collector's pages and the
//! `tunekeeper gc --format html` report look alike.

/// The stylesheet of every page: the fleet pages and the
/// `tunekeeper gc --format html` report look alike.
pub const STYLE: &str = r#"
:root{--fg:#1b2330;--mut:#687386;--line:#e2e6ec;--bg:#f4f5f7;--card:#fff;--bad:#c0262d;--badbg:#fde8e8;--warn:#9a5b00;--warnbg:#fff1d6;--ok:#23733a;--okbg:#e3f3e6;--acc:#1f5fbf}
*{box-sizing:border-box}
body{margin:0;font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1b2330;color:#e8ecf2;padding:8px 20px;display:flex;align-items:center;gap:18px;flex-wrap:wrap}
header h1{font-size:16px;margin:0;font-weight:600;overflow-wrap:anywhere}
header .home{color:#9fb4d6;text-decoration:none;font-weight:600}
header h1 a{color:#fff;text-decoration-color:#9fb4d6}
header .stats{display:flex;gap:14px;color:#b7c0cd}
header .stats b{color:#fff;font-weight:600}
header .stats .hot b{color:#ff8a8a}
header .stamp{margin-left:auto;color:#8994a6;font-size:12px}
main{padding:12px 20px 30px}
.bar{display:flex;gap:12px;align-items:center;margin-bottom:8px}
.bar input[type=search]{width:320px;padding:5px 8px;border:1px solid #c9d0da;border-radius:4px;font:inherit;background:#fff}
.bar label{color:var(--mut);display:flex;gap:4px;align-items:center}
.bar .count{color:var(--mut);margin-left:auto}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;color:#3a4556;position:sticky;top:0;white-space:nowrap;font-size:12px}
#fleet th{cursor:pointer;user-select:none}
#fleet th:hover{color:var(--acc)}
th[aria-sort=ascending]::after{content:" ▲";font-size:9px}
th[aria-sort=descending]::after{content:" ▼";font-size:9px}
tbody tr:nth-child(even){background:#fafbfc}
tbody tr:hover{background:#eef4ff}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.host{font-weight:600;max-width:360px;overflow-wrap:anywhere}
td.host a{color:var(--acc);text-decoration:none}
td.host a:hover{text-decoration:underline}
.mut{color:var(--mut)}
.pill{display:inline-block;min-width:22px;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;text-align:center;line-height:18px}
.pill.bad{background:var(--badbg);color:var(--bad)}
.pill.warn{background:var(--warnbg);color:var(--warn)}
.pill.ok{background:var(--okbg);color:var(--ok)}
.pill.unk{background:#eceff3;color:var(--mut)}
.hot{color:var(--bad);font-weight:600}
tr.stale td{background:#fffaf0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:4px 0 14px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.card .k{color:var(--mut);font-size:12px}
.card .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}
.card .v small{font-size:12px;color:var(--mut);font-weight:400}
.facts{color:var(--mut);margin:0 0 10px;display:flex;flex-wrap:wrap;gap:4px 18px}
.facts b{color:var(--fg);font-weight:600}
h2{font-size:14px;margin:18px 0 6px}
h2 .mut{font-weight:400;font-size:12px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:10px}
.chartbox{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:6px}
svg.chart{width:100%;height:auto;display:block}
svg .ct{font-size:12px;font-weight:600;fill:#3a4556}
svg .cl{font-size:11px;fill:#3a4556}
svg .ya{font-size:10px;fill:#7b8597;text-anchor:end}
svg .xa{font-size:10px;fill:#7b8597;text-anchor:middle}
svg .grid{stroke:#edf0f4;stroke-width:1}
svg .slo{stroke:var(--bad);stroke-width:1;stroke-dasharray:5 4;opacity:.7}
svg .frame{fill:none;stroke:#d5dbe3}
svg .empty{font-size:12px;fill:#9aa3b2;text-anchor:middle}
.split{display:grid;grid-template-columns:minmax(360px,460px) 1fr;gap:10px;align-items:start}
td.wrap{white-space:normal;overflow-wrap:anywhere;max-width:420px}
td.code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;overflow-wrap:break-word}
tr.grp td{background:#eef1f5;font-weight:600;color:#3a4556}
.msg{font-size:15px}
body:has(#showpass:not(:checked)) tr.pass{display:none}
.empty-row td{color:var(--mut);text-align:center;padding:14px}
.note{border-radius:6px;padding:8px 12px;margin:0 0 12px;border:1px solid var(--line);background:var(--card);overflow-wrap:anywhere}
.note.warn{background:var(--warnbg);border-color:#f0d39a;color:#4a3000}
.card .why{font-size:11px;color:var(--mut);margin-top:2px;overflow-wrap:anywhere}
tr.counters td{border-top:0;padding-top:0}
td.ctr{white-space:normal;overflow-wrap:anywhere;font-size:12px}
td.ctr .k{color:var(--mut)}
td.ctr ul{margin:2px 0 0 18px;padding:0}
td.ctr .ttsp,td.ctr .remedy{margin-top:2px}
"#;
