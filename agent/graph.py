"""The graph: wiring only. Nodes live in agent/nodes/, decisions in agent/policy/.

 START -> enter -> plan -> decide -> [rewrite_prompt ->] generate -> critique -> select -> decide ...
            |                                                                 \\-> backtrack -> decide
            \\-> (a finished run re-entered) decide | critique | ask_human
 decide -> finish (accept, budget, plateau, nothing left); critique -> finish (critic unusable)
 chat mode: select/backtrack -> ask_human (interrupt) -> decide | rewrite_prompt | generate | finish
            | critique (an image judged again after the person changed the brief);
            select -> critique (a person's edit changed the brief); decide -> ask_human (an image
            offered over the person's pick); generate -> ask_human (an image the person cancelled)
"""
from __future__ import annotations

import functools
import time

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext
from agent.nodes.ask_human import ask_human
from agent.nodes.backtrack import backtrack
from agent.nodes.critique import critique
from agent.nodes.decide import decide
from agent.nodes.enter import enter
from agent.nodes.finish import finish
from agent.nodes.generate import generate
from agent.nodes.plan import plan
from agent.nodes.rewrite import rewrite_prompt
from agent.nodes.select import select
from agent.state import RunInput, RunState, apply_update


def timed(fn):
    """Charge each node's wall time to the run's spend, so a seconds budget survives resumes; and,
    for a graph LangGraph's server drives, keep the run folder's tree.json as sculpt's lifecycle does."""

    @functools.wraps(fn)
    def wrapper(state: RunState, runtime: Runtime[RunContext]):
        clock = runtime.context.clock if runtime.context else time.monotonic
        t0 = clock()
        out = fn(state, runtime)
        dt = round(clock() - t0, 4)
        if isinstance(out, Command):
            update = dict(out.update or {})
            update["spend"] = {**(update.get("spend") or {}), "seconds": dt}
            out = Command(goto=out.goto, update=update, graph=out.graph, resume=out.resume)
        else:
            update = out = {**out, "spend": {**(out.get("spend") or {}), "seconds": dt}}
        if runtime.context is None or not runtime.context.complete:
            from agent.lifecycle.platform import after_step

            after_step(fn.__name__, apply_update(state, update))
        return out

    return wrapper


def build_graph() -> StateGraph:
    g = StateGraph(RunState, input_schema=RunInput, context_schema=RunContext)
    g.add_node("enter", enter, destinations=("plan", "decide", "critique", "ask_human"))
    g.add_node("plan", timed(plan), destinations=("decide", "critique"))
    g.add_node("decide", timed(decide), destinations=("generate", "rewrite_prompt", "finish", "ask_human"))
    g.add_node("rewrite_prompt", timed(rewrite_prompt), destinations=("generate",))
    g.add_node("generate", timed(generate), destinations=("critique", "decide", "ask_human"))
    g.add_node("critique", timed(critique), destinations=("select", "finish"))
    g.add_node("select", timed(select), destinations=("decide", "backtrack", "ask_human", "critique"))
    g.add_node("backtrack", timed(backtrack), destinations=("decide", "ask_human"))
    g.add_node("ask_human", ask_human,
               destinations=("decide", "rewrite_prompt", "generate", "finish", "ask_human", "critique"))
    g.add_node("finish", timed(finish))
    g.add_edge(START, "enter")
    g.add_edge("finish", END)
    return g


def compile_graph(checkpointer=None):
    return build_graph().compile(checkpointer=checkpointer, name="sculpt")


# For LangGraph's server and Studio (langgraph.json): compiled without a checkpointer (the server
# adds its own); its runs are made through sculpt's lifecycle (agent/lifecycle/platform.py).
studio_graph = compile_graph()
