"""The plumbing every vision-language model client shares, whoever uses it (critics, the rewriter).

Transports (an OpenAI-compatible server over HTTP, a transformers model on this machine), images as
the model sees them, boxes in whatever convention it answers in, the reply schemas, the versioned
prompt templates and the validate-and-re-ask loop. Nothing here knows about critics: failures are
this package's own errors (:mod:`agent.vlm.errors`), which each caller turns into its own.
"""
