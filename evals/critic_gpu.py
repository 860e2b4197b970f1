"""Seconds per critique and memory of an hf: critic: VQAScore in one batched pass, VQAScore one
question at a time, and judge mode (constrained generation).

    python -m evals.critic_gpu --critic hf:Qwen/Qwen2.5-VL-3B-Instruct [--device cuda] [--dtype bfloat16]
                               [--objects 3] [--size 512] [--repeats 3] [--max-tokens 1024]
                               [--localiser hf:google/owlv2-base-patch16-ensemble] [--out critic_gpu.json]
    python -m evals.critic_gpu --tiny     # tiny random-weight LLaVA and OWLv2 built in code: proves the script on a CPU

Nothing is downloaded: a hub id must already be in the cache (``hf download ORG/NAME``). The image
is a shapes-world render of a seeded brief; the checklist is that brief's (3 objects: 6 to 9
requirements), so every mode judges the same requirements of the same image. Reported, as medians
after one warm-up critique per mode:

- load: seconds, parameters, weight memory;
- per mode: seconds per critique, forward passes, tokens in and out;
- peak memory: the device's peak allocation per mode on CUDA; on a CPU, the process's peak resident set.

A tiny model's figures prove the script, not the speed of a real critic.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODES = (("vqa, batched", {"mode": "vqa", "batched": True}),
         ("vqa, one question per pass", {"mode": "vqa", "batched": False}),
         ("judge (constrained JSON)", {"mode": "judge"}))


def scene(objects: int, size: int, seed: int):
    """(brief text, image, checklist): a seeded shapes brief and a render of it."""
    from tools.shapes.render import render
    from tools.shapes.sample import random_brief

    rng = np.random.default_rng(seed)
    brief = random_brief(rng, objects)
    image, _ = render(brief, rng, size=size)
    return brief.text(), image, brief.requirements()


def peak_reset(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux


def measure(spec: str, options: dict, repeats: int, device: str, image, brief, checklist,
            localiser: str | None) -> dict:
    from agent.components import critic_for

    critic = critic_for(spec, options, localiser)
    critic.critique(image, brief, checklist)  # warm-up: kernels, caches, the grammar compiled once
    peak_reset(device)
    seconds, last = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        last = critic.critique(image, brief, checklist)
        seconds.append(time.perf_counter() - t0)
    return {"seconds_per_critique": round(statistics.median(seconds), 4), "forward_passes": last.usage.calls,
            "tokens_in": last.usage.input_tokens, "tokens_out": last.usage.output_tokens,
            "requirements": len(checklist), "peak_memory_gib": round(peak_gib(device), 3),
            "score": round(last.score, 4)}


def tiny_models(folder: Path) -> tuple[str, str]:
    """A tiny random-weight LLaVA and OWLv2 (tests/tiny_vlms.py, run from a checkout), as hf: specs."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.tiny_vlms import build_detector, build_vlm

    return f"hf:{build_vlm('llava', folder / 'tiny-llava')}", f"hf:{build_detector('owlv2', folder / 'tiny-owlv2')}"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--critic", help="hf:PATH_OR_ID (a folder, or a hub id in the cache)")
    p.add_argument("--tiny", action="store_true", help="a tiny random-weight model built here, on the CPU")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N (default: cuda, or cpu with --tiny)")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA), float32, float16, bfloat16")
    p.add_argument("--objects", type=int, default=3, help="objects in the brief (its checklist grows with them)")
    p.add_argument("--size", type=int, default=512, help="the image's side in pixels")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=1024, help="judge mode: the longest reply, in tokens")
    p.add_argument("--localiser", default=None, help="also time critiques completed by this localiser")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads on a CPU")
    p.add_argument("--out", default="critic_gpu.json")
    args = p.parse_args(argv)
    if not args.tiny and not (args.critic or "").startswith("hf:"):
        p.error("give --critic hf:PATH_OR_ID, or --tiny")

    import torch

    from tools.engine.quiet import quiet_libraries

    quiet_libraries()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cpu" if args.tiny else "cuda")
    with tempfile.TemporaryDirectory() as tmp:
        spec, localiser = tiny_models(Path(tmp)) if args.tiny else (args.critic, args.localiser)
        localiser = args.localiser or localiser
        brief, image, checklist = scene(args.objects, args.size, args.seed)
        base = {"device": device, "dtype": args.dtype, "max_tokens": args.max_tokens, "localise": "off"}
        from agent.critics.registry import make_critic

        t0 = time.perf_counter()
        first = make_critic(spec, **base)
        load_s = time.perf_counter() - t0
        model = first.vlm.model
        params = sum(p.numel() for p in model.parameters())
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        report = {"critic": spec, "device": str(first.vlm.device), "dtype": str(model.dtype).removeprefix("torch."),
                  "torch_threads": torch.get_num_threads(), "brief": brief, "requirements": len(checklist),
                  "image_px": args.size, "load_seconds": round(load_s, 3), "parameters": params,
                  "weights_gib": round(weights / 2**30, 3), "image_encoded_once": first.vlm.encodes_image_once,
                  "modes": {}}
        for name, options in MODES:
            if options["mode"] == "judge" and not first.vlm.has_chat_template:
                report["modes"][name] = {"skipped": "the processor has no chat template"}
                continue
            report["modes"][name] = measure(spec, {**base, **options}, args.repeats, device, image, brief,
                                            checklist, None)
        if localiser:
            report["modes"]["vqa, batched + localiser"] = measure(
                spec, {**base, "mode": "vqa"}, args.repeats, device, image, brief, checklist, localiser)
            report["localiser"] = localiser
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print_table(report)
    print(f"written: {args.out}")
    return report


def print_table(report: dict) -> None:
    print(f"{report['critic']} on {report['device']} ({report['dtype']}): {report['parameters'] / 1e6:.1f}M "
          f"parameters, {report['weights_gib']:.2f} GiB of weights, loaded in {report['load_seconds']:.2f} s; "
          f"{report['requirements']} requirements, {report['image_px']} px image")
    print(f"{'mode':<34}{'s/critique':>11}{'passes':>8}{'tokens in':>11}{'out':>7}{'peak GiB':>10}")
    for name, m in report["modes"].items():
        if "skipped" in m:
            print(f"{name:<34}{'skipped: ' + m['skipped']}")
            continue
        print(f"{name:<34}{m['seconds_per_critique']:>11.3f}{m['forward_passes']:>8}{m['tokens_in']:>11}"
              f"{m['tokens_out']:>7}{m['peak_memory_gib']:>10.2f}")


if __name__ == "__main__":
    main()
