"""Serving the studio: safe by default.

- It listens on 127.0.0.1 unless told otherwise, and says so loudly when told otherwise.
- No public share link unless ``share`` is asked for; optional ``user:password`` auth.
- Files are served only from inside the runs folder: Gradio's own file route, restricted to the runs
  folder (``allowed_paths``), with Gradio's upload and cache folders moved inside it (``.studio/``).
- Errors are messages in the page, never tracebacks (``show_error`` off; handlers catch sculpt's errors).
- No key is ever sent to the page: critics read keys from the environment, and specs refuse them.
"""
from __future__ import annotations

import os
from pathlib import Path

from tools.errors import InputError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_UPLOAD = "20mb"


def prepare_environment(runs_dir: str | Path) -> Path:
    """Point Gradio's upload and cache folders inside the runs folder. Must run before gradio is
    imported (it reads these once)."""
    root = Path(runs_dir).expanduser().resolve()
    studio = root / ".studio"
    (studio / "uploads").mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(studio / "uploads")
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(studio / "cache")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_SSR_MODE", "False")
    return root


def parse_auth(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise InputError("--auth takes user:password (both non-empty)")
    return user, password


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS


def host_warning(host: str, auth: tuple[str, str] | None, share: bool) -> str | None:
    """What to tell the person when the studio is reachable from other machines."""
    if share:
        return ("--share: a public link makes the studio reachable from the internet; everyone with the link can "
                "make images and read every run in the runs folder" + ("" if auth else " — add --auth user:password"))
    if not is_local(host):
        return (f"listening on {host}, not 127.0.0.1: other machines on the network can use the studio and read every "
                "run in the runs folder" + ("" if auth else " — add --auth user:password"))
    return None


def launch(runs_dir: str | Path, defaults, *, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
           share: bool = False, block: bool = True, engine=None, quiet: bool = False, warm: bool = True,
           previews: bool = True):
    """Build the studio and serve it. Returns (demo, local url); with ``block`` it serves until stopped."""
    root = prepare_environment(runs_dir)
    import gradio as gr

    from agent.studio.app import build_app
    from agent.studio.style import CSS

    credentials = parse_auth(auth)
    if engine is None and warm:  # one engine per server, loaded now: a bad --model fails here, not at a brief
        from agent.components import load_engine
        from agent.settings import run_spec

        load_engine(run_spec(defaults, "-"))
    gr.set_static_paths([str(root)])  # run images are served where they are, not copied
    demo = build_app(root, defaults, engine=engine, previews=previews)
    demo.queue(default_concurrency_limit=4)
    try:
        _, url, _ = demo.launch(
            server_name=host, server_port=port, share=share, auth=credentials, allowed_paths=[str(root)],
            show_error=False, max_file_size=MAX_UPLOAD, footer_links=[], run_history=False, enable_monitoring=False,
            mcp_server=False, ssr_mode=False, quiet=quiet, prevent_thread_lock=True, css=CSS, inbrowser=False,
            theme=gr.themes.Soft(), auth_message="sculpt studio")
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port} ({exc}); choose another --port") from None
    if block:
        try:
            demo.block_thread()
        finally:
            demo.studio_pool.close()
    return demo, url
