"""sculpt's evaluations: critic-vs-human agreement and the refinement benchmark."""
