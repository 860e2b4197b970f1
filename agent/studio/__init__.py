"""sculpt studio: the chat in a browser, a Gradio surface over the run lifecycle.

    files.py      run folders by id, uploads checked, downloads with metadata
    jobs.py       runs advanced on background threads; one engine gate for the server; previews, cancel
    views.py      the chat, checklist and status line, rebuilt from a run folder (in agent/wording.py's words)
    tree_view.py  the tree of images and the side-by-side comparison
    regions.py    the region a person painted, as fractions of the image
    fields.py     the page's numbers, checked by the run spec, each with its range and its own message
    controls.py   which controls can act now, and why the others cannot (shown on hover)
    handlers.py   the view, starting runs and following them (answering.py: the answers; panels.py: the
                  tree, the runs list, the upload, settings)
    app.py        the page (gr.Blocks) and its wiring; style.py its few styles
    server.py     launching it, safe by default
"""
