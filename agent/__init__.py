"""sculpt's agent: the LangGraph state machine, its decisions, critics and CLI."""
