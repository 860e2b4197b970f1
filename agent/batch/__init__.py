"""Many briefs in one unattended run: one run folder per brief, resumable, and a morning report.

- :mod:`agent.batch.briefs` reads the briefs file;
- :mod:`agent.batch.item` runs one brief through the run lifecycle (start, or resume its folder);
- :mod:`agent.batch.serial` runs them one after another in this process;
- :mod:`agent.batch.manifest` keeps what finished (batch.json) so a rerun skips it;
- :mod:`agent.batch.report` writes summary.md and summary.html.
"""
