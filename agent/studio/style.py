"""The few styles Gradio's theme does not give (a Python string, so it ships with the package's code)."""

CSS = """
/* sculpt studio: the few styles Gradio's theme does not give. Images are small (the shapes model
   makes 64x64), so they are scaled up without smoothing. */
:root { --sc-ok: #1a7f37; --sc-bad: #cf222e; --sc-muted: #57606a; --sc-line: #d0d7de; --sc-best: #bf8700; }
#chat img, #current img, #variations img, .studio-tree img, .compare img, #upload-preview img { image-rendering: pixelated; }
#chat img { width: 160px; height: 160px; object-fit: contain; }
#current img { width: 100%; height: 100%; object-fit: contain; }
#variations img { object-fit: contain; }
.note .err { color: var(--sc-bad); font-weight: 600; }
.note .ok { color: var(--sc-ok); }
#status { padding: 4px 2px; }
table.checklist { border-collapse: collapse; width: 100%; font-size: 13px; }
table.checklist td, table.checklist th { border-bottom: 1px solid var(--sc-line); padding: 3px 6px; text-align: left; vertical-align: top; }
table.checklist tr.pass td:first-child { color: var(--sc-ok); font-weight: 700; }
table.checklist tr.fail td:first-child { color: var(--sc-bad); font-weight: 700; }
table.checklist tr.unjudged td:first-child { color: var(--sc-muted); font-weight: 700; }
table.checklist td.evidence { color: var(--sc-muted); font-size: 12px; }
.muted { color: var(--sc-muted); }
/* the tree: nested lists, one card per image */
.studio-tree { overflow-x: auto; padding: 6px 0; }
.studio-tree ul { padding-left: 22px; margin: 0; }
.studio-tree > ul { padding-left: 0; }
.studio-tree li { list-style: none; position: relative; padding: 4px 0; }
.studio-tree ul ul li::before { content: ""; position: absolute; left: -14px; top: 0; bottom: 0; border-left: 2px solid var(--sc-line); }
.studio-tree ul ul li::after { content: ""; position: absolute; left: -14px; top: 36px; width: 12px; border-top: 2px solid var(--sc-line); }
.studio-tree ul ul li:last-child::before { bottom: calc(100% - 36px); }
.studio-tree li.onbest::before, .studio-tree li.onbest::after { border-color: var(--sc-best) !important; }
.studio-tree .card { display: inline-flex; gap: 8px; align-items: center; border: 1px solid var(--sc-line); border-radius: 8px;
  padding: 4px 10px 4px 4px; background: var(--block-background-fill, #fff); cursor: pointer; font-size: 12px; }
.studio-tree .card:hover { border-color: #0969da; }
.studio-tree .card.best { border: 2px solid var(--sc-best); }
.studio-tree .card.current { box-shadow: 0 0 0 3px #0969da55; }
.studio-tree .card.selected { outline: 3px solid #0969da; }
.studio-tree .thumb { position: relative; width: 64px; height: 64px; flex: none; }
.studio-tree .thumb img { width: 64px; height: 64px; border-radius: 4px; display: block; }
.studio-tree .region { position: absolute; border: 2px dashed #0969da; box-sizing: border-box; }
.studio-tree .edge { color: var(--sc-muted); }
.studio-tree .empty, .studio-tree.empty { color: var(--sc-muted); }
.badge { display: inline-block; padding: 0 6px; margin: 2px 2px 0 0; border-radius: 8px; font-size: 11px; background: #eaeef2; color: #1f2328; }
.badge.progress, .badge.fresh { background: #dafbe1; } .badge.drift { background: #ffebe9; }
.badge.no-progress { background: #fff8c5; } .badge.backtrack { background: #ddf4ff; } .badge.bestmark { background: #fff1c2; }
.badge.amended { background: #fbefff; } .muted.stale { font-size: 12px; margin: 0 0 4px 0; }
.note .muted { color: var(--sc-muted); font-size: 12px; }
.compare { display: flex; gap: 16px; }
.compare .cmp-col { flex: 1; min-width: 0; }
.compare .cmp-col img { width: 100%; max-width: 320px; border-radius: 6px; }
"""
