"""Many briefs in one unattended run: one run folder per brief, resumable, and a morning report.

- :mod:`agent.batch.briefs` reads the briefs file;
- :mod:`agent.batch.item` runs one brief through the run lifecycle (start, or resume its folder),
  holding the folder's lock (:mod:`agent.locks`);
- :mod:`agent.batch.serial` runs them one after another in this process;
- :mod:`agent.batch.pool` and :mod:`agent.batch.distributed` spread them over Ray workers, each a
  :class:`agent.batch.worker.BriefWorker` actor (only those two import Ray, and only `--workers` or
  `--ray` imports them);
- :mod:`agent.batch.night` decides when the night's budgets stop new briefs;
- :mod:`agent.batch.manifest` keeps what finished (batch.json) so a rerun skips it;
- :mod:`agent.batch.report` and :mod:`agent.batch.contact` write summary.html, summary.md and summary.png.
"""
