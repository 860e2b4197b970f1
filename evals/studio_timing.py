"""How much the studio costs over `sculpt run`: the same briefs and seeds through both.

    python -m evals.studio_timing [--briefs 3] [--steps 20] [--budget 8] [--repeat 3] [--previews on|off]
                                  [--out studio-timing]

For each brief: `sculpt run` (the lifecycle in this process, engine warm: the run's own wall time),
then the studio (`sculpt studio` in a subprocess, driven by headless Chromium): type the brief, wait
for the first question, press Autopilot, wait until the page shows the end. Reported:

- whether the trees are identical (node ids, parents, actions, seeds, image hashes);
- the studio's added wall time: (brief → first question shown) + (Autopilot → end shown), against
  the run's own wall time (engine warm, in this process), and against the `sculpt run` command as a
  person runs it (a new process that loads the model first);
- the latency from an image file being written to it being shown in the page (its <img> loaded),
  for every image of every run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from agent.run_files import read_tree

BRIEFS = ["a red circle to the left of a blue square, yellow background",
          "a small green triangle above a large purple diamond, white background",
          "two small red circles above a large blue square, yellow background",
          "an orange diamond to the right of a black circle, green background"]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# Records when each <img> first appears in the page and when it has loaded (epoch ms).
WATCH_IMAGES = """
window.__shown = {};
new MutationObserver(() => {
  for (const img of document.querySelectorAll('img')) {
    const src = img.getAttribute('src') || '';
    if (!src.includes('/images/') || window.__shown[src]) continue;
    const rec = window.__shown[src] = {added: Date.now(), loaded: null};
    const done = () => { if (!rec.loaded) rec.loaded = Date.now(); };
    if (img.complete && img.naturalWidth) done(); else img.addEventListener('load', done, {once: true});
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
"""
AT_REST = "() => { const s = document.querySelector('#status'); return s && s.innerText.trim() && !s.innerText.includes('⏳') }"
FINISHED = "() => { const s = document.querySelector('#status'); return s && /accepted|budget|plateau|exhausted|stopped/" \
           ".test(s.innerText) && !s.innerText.includes('⏳') && !s.innerText.includes('your turn') }"


def threads() -> int:
    """Torch threads for both sides (the same count, so both make bit-identical images)."""
    return int(os.environ.get("OMP_NUM_THREADS", "1"))


def made(nodes: dict) -> list:
    return [(i, n.get("parent"), n["action"]["kind"], n["seed"], n["image_hash"])
            for i, n in sorted(nodes.items()) if n.get("image") and n.get("action")]


def cli_command(brief: str, seed: int, steps: int, budget: int, out: Path) -> dict:
    """`sculpt run` as a person runs it: a new process that loads the model, then the run."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agent.cli", "run", brief, "--seed", str(seed), "--steps", str(steps),
                    "--budget", str(budget), "--out", str(out), "-q"], capture_output=True, check=False,
                   env={**os.environ, "OMP_NUM_THREADS": str(threads())})
    seconds = time.perf_counter() - t0
    (run_dir,) = set(out.iterdir()) - before
    return {"seconds": seconds, "tree": made(read_tree(run_dir).to_json()["nodes"])}


def cli_run(brief: str, seed: int, steps: int, budget: int, out: Path) -> dict:
    """`sculpt run`'s own code path in this process (engine loaded beforehand): the run itself."""
    from agent.lifecycle import Run
    from agent.settings import load_settings, run_spec

    spec = run_spec(load_settings(budget=budget, steps=steps, runs_dir=out), brief, seed=seed)
    t0 = time.perf_counter()
    with Run.start(spec, out) as run:
        res = run.advance()
    return {"seconds": time.perf_counter() - t0, "tree": made(res.state["nodes"]), "status": str(res.status),
            "graph_seconds": res.state["spend"]["seconds"]}


def start_studio(runs: Path, steps: int, budget: int, previews: bool = True) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (runs.parent / "studio.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "studio", "--port", str(port), "--out", str(runs),
                             "--steps", str(steps), "--budget", str(budget), *([] if previews else ["--no-previews"])],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": str(threads())})
    url = f"http://127.0.0.1:{port}/"
    for _ in range(360):
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"sculpt studio did not start; see {log.name}")


def studio_run(page, url: str, runs: Path, brief: str, seed: int) -> dict:
    page.goto(url)
    page.wait_for_selector("#msg textarea")
    page.fill("#seed input", str(seed))
    page.fill("#msg textarea", brief)
    t0 = time.perf_counter()
    page.click("#send")
    page.wait_for_url("**/?run=*")
    page.wait_for_selector("#checklist table.checklist")
    page.wait_for_function(AT_REST, polling=20)
    first = time.perf_counter() - t0
    run_id = page.url.split("run=")[1]
    t1 = time.perf_counter()
    page.click("#auto")
    page.wait_for_function(FINISHED, polling=20, timeout=600_000)
    auto = time.perf_counter() - t1
    page.wait_for_timeout(300)
    shown = page.evaluate("window.__shown")
    state = read_tree(runs / run_id).to_json()
    latencies = []
    for node in state["nodes"].values():
        if not node.get("image") or not node.get("action"):
            continue
        written = (runs / run_id / node["image"]).stat().st_mtime * 1000
        rec = next((r for src, r in shown.items() if Path(node["image"]).name in src and r.get("loaded")), None)
        if rec:
            latencies.append((rec["loaded"] - written) / 1000)
    return {"seconds": first + auto, "first_question": first, "autopilot": auto, "tree": made(state["nodes"]),
            "graph_seconds": state["spend"]["seconds"],
            "status": state["status"], "run_id": run_id, "latencies": latencies}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--briefs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="runs per brief and side; the fastest counts")
    ap.add_argument("--previews", choices=("on", "off"), default="on", help="the studio's live previews")
    ap.add_argument("--out", type=Path, default=Path("studio-timing"))
    args = ap.parse_args(argv)
    import torch
    from playwright.sync_api import sync_playwright

    from agent.components import load_engine
    from agent.spec import RunSpec

    torch.set_num_threads(threads())
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    load_engine(RunSpec(brief="-"))  # `sculpt run` loads its engine before the run starts: not timed here
    proc, url = start_studio(args.out / "studio-runs", args.steps, args.budget, args.previews == "on")
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "chromium", args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(WATCH_IMAGES)
            for brief in BRIEFS[: args.briefs]:
                # Alternating repeats, the fastest of each side: other load on the machine only adds time.
                clis, webs = [], []
                for r in range(args.repeat):
                    clis.append(cli_run(brief, args.seed, args.steps, args.budget, args.out / f"cli-runs-{r}"))
                    webs.append(studio_run(page, url, args.out / "studio-runs", brief, args.seed))
                cli, web = min(clis, key=lambda x: x["seconds"]), min(webs, key=lambda x: x["seconds"])
                cmd = cli_command(brief, args.seed, args.steps, args.budget, args.out / "cmd-runs")
                rows.append({"brief": brief, "images": len(cli["tree"]),
                             "identical": all(x["tree"] == cmd["tree"] for x in clis + webs),
                             "status": [cli["status"], web["status"]], "cli_seconds": round(cli["seconds"], 3),
                             "command_seconds": round(cmd["seconds"], 3),
                             "studio_seconds": round(web["seconds"], 3),
                             "added": round(web["seconds"] / cli["seconds"] - 1, 4),
                             # wall time outside the graph's nodes (engine, critic, policy): what each
                             # surface itself costs, apart from the engine running slower beside a browser
                             "cli_outside": round(cli["seconds"] - cli["graph_seconds"], 3),
                             "studio_outside": round(web["seconds"] - web["graph_seconds"], 3),
                             "first_question": round(web["first_question"], 3),
                             "latencies": [round(x, 3) for w in webs for x in w["latencies"]]})
                print(json.dumps(rows[-1]))
            page.screenshot(path=str(args.out / "studio.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    lat = [x for r in rows for x in r["latencies"]]
    total_cli, total_web = sum(r["cli_seconds"] for r in rows), sum(r["studio_seconds"] for r in rows)
    total_cmd = sum(r["command_seconds"] for r in rows)
    outside = sum(r["studio_outside"] - r["cli_outside"] for r in rows)
    summary = {"steps": args.steps, "budget": args.budget, "briefs": len(rows), "previews": args.previews,
               "all_identical": all(r["identical"] for r in rows), "cli_seconds": round(total_cli, 2),
               "studio_seconds": round(total_web, 2), "added": round(total_web / total_cli - 1, 4),
               "command_seconds": round(total_cmd, 2), "added_vs_command": round(total_web / total_cmd - 1, 4),
               "added_outside_graph": round(outside / total_cli, 4),
               "image_to_page_median": round(statistics.median(lat), 3) if lat else None,
               "image_to_page_max": round(max(lat), 3) if lat else None, "images_shown": len(lat), "rows": rows}
    (args.out / "timing.json").write_text(json.dumps(summary, indent=1))
    print(f"trees identical: {summary['all_identical']} · the runs alone {total_cli:.2f} s · studio {total_web:.2f} s "
          f"(added {summary['added']:+.1%}) · `sculpt run` commands {total_cmd:.2f} s (studio "
          f"{summary['added_vs_command']:+.1%}) · added outside the graph {summary['added_outside_graph']:+.1%} · "
          f"image written → shown: median {summary['image_to_page_median']} s, "
          f"max {summary['image_to_page_max']} s over {len(lat)} images")
    return 0 if summary["all_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
